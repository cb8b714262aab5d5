#!/usr/bin/env bash
# extract.sh PAGE.md: prints, as one bash script, every runnable command block
# of a guide in page order (the convention is in docs/README.md, "Commands in
# the guides"):
#   ```sh / ```bash / ```shell   runs, as written, in one shell, in order;
#   ```console                   commands shown but not run (real hardware,
#                                a whole build, placeholders), and transcripts;
#   ```json, ```c, ```text, ...  not commands.
# A fence without a language is refused (exit 2): its author has to say which.
# Each block is preceded by a marker line naming PAGE:LINE so a failure points
# at the block. Fences may be indented (inside list items); the indentation of
# the opening fence is removed from the block's lines.
set -euo pipefail
page=${1:?usage: extract.sh PAGE.md}
[ -r "$page" ] || { echo "extract.sh: cannot read $page" >&2; exit 2; }
awk -v page="$page" '
  function fail(msg) { printf "extract.sh: %s:%d: %s\n", page, NR, msg > "/dev/stderr"; bad = 1; exit 2 }
  !in_block && match($0, /^[ ]*(```|~~~)/) {
    indent = RLENGTH - 3; fence = substr($0, indent + 1, 3)
    lang = substr($0, RLENGTH + 1); sub(/[ \t].*$/, "", lang); sub(/[{].*$/, "", lang)
    if (lang == "") fail("fenced block without a language (sh, console, json, text, ...)")
    in_block = 1; run = (lang == "sh" || lang == "bash" || lang == "shell")
    if (run) { printf "\n__doc_block %s:%d\n", page, NR; blocks++ }
    next
  }
  in_block && match($0, "^[ ]*" fence "[ \t]*$") { in_block = 0; next }
  in_block && run {
    line = $0
    if (substr(line, 1, indent) ~ /^[ ]*$/) line = substr(line, indent + 1)
    print line
  }
  END {
    if (bad) exit 2
    if (in_block) { printf "extract.sh: %s: unterminated fenced block\n", page > "/dev/stderr"; exit 2 }
  }' "$page"
