#!/usr/bin/env bash
# test_coverage.sh GUIDE...: the pages whose commands run as tests are
# exactly the pages with ```sh blocks; every fence in docs/*.md and README.md
# has a language; the README's commands are the ones CI runs (.ci/run).
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
declare -A registered=()
for g in "$@"; do registered[$g]=1; done
[ $# -ge 1 ] || bad "no guide registered (tests/integration/docs/CMakeLists.txt)"
cd "$SRC" || exit 1
for page in docs/*.md README.md; do
  if ! out=$(bash tests/integration/docs/extract.sh "$page" 2>&1 >/dev/null); then bad "$out"; continue; fi
  n=$(bash tests/integration/docs/extract.sh "$page" | grep -c '^__doc_block ')
  if [ "$n" -gt 0 ] && [ -z "${registered[$page]:-}" ]; then
    bad "$page has $n \`\`\`sh block(s) but no doc test: add cairn_doc_guide($page) to tests/integration/docs/CMakeLists.txt (or mark blocks that cannot run \`\`\`console)"
  elif [ "$n" -eq 0 ] && [ -n "${registered[$page]:-}" ]; then
    bad "$page is registered as a guide but has no \`\`\`sh block"
  elif [ "$n" -gt 0 ]; then ok "$page: $n block(s), run by doc_$(basename "$page" .md)"
  fi
done
for g in "$@"; do [ -f "$g" ] || bad "registered guide $g does not exist"; done

# A page names only what a user who cloned this repository has: no design
# notes, reference files or issue numbers kept elsewhere.
refs=$(grep -nE '\bDESIGN\b|\binventory\b|\breference/|\b[Ii]ssues? [0-9]' docs/*.md README.md)
[ -z "$refs" ] && ok "no page cites DESIGN, the inventory, reference/ or issue numbers" \
  || bad "pages cite what is not in the repository:"$'\n'"$refs"

# README.md's commands (its first fenced block) are run by CI as written.
cmds=$(awk '/^```/{n++; next} n==1 {sub(/[ ]*#.*/, ""); if ($0 != "") print}' README.md)
[ -n "$cmds" ] || bad "README.md: no command block"
while IFS= read -r c; do
  [ -z "$c" ] && continue
  grep -qxF "$c" .ci/run && ok "README's \`$c\` is a line of .ci/run" || bad "README's \`$c\` is not run by .ci/run"
done <<<"$cmds"
[ $fails -eq 0 ] && echo "PASS" || { echo "$fails failure(s)"; exit 1; }
