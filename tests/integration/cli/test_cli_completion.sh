#!/usr/bin/env bash
# The CLI's help, version, error prefix and shell completion, all read from
# one command table: `cairn completion bash` completes in a real bash (and
# what it offers for every command is what that command's --help lists), the
# zsh script parses and offers the same words through stubbed compadd/_files,
# the fish script completes with `fish -c 'complete -C ...'`; every command's
# help shows an example and only the flags that apply; errors carry exactly
# one "cairn:" prefix; `cairn --version` works. Offline: no Coordinator.
source "$(dirname "$0")/harness.sh"

cli completion bash >"$WORK/c.bash" && bash -n "$WORK/c.bash" && ok "cairn completion bash: a bash script" \
  || bad "completion bash does not parse"
comp() { bash -c "source '$WORK/c.bash'; COMP_WORDS=($1); COMP_CWORD=$2; _cairn; echo \${COMPREPLY[*]}"; }
ceq() { local got; got=$(comp "$1" "$2"); [ "$got" = "$3" ] && ok "bash: $1 -> $3" || bad "bash: $1 -> '$got', want '$3'"; }
ceq 'cairn man' 1 manifest
ceq 'cairn -i manifest ""' 3 "set get verify signature log check update"
ceq 'cairn --nonce x certificate root --ou' 5 --output
ceq 'cairn manifest get --ke' 3 --keep-cert
ceq 'cairn secret get --pkcs11-c' 3 "--pkcs11-config --pkcs11-cert-id --pkcs11-cert-label"
ceq 'cairn manifest update ""' 3 "apply acknowledge cancel get"
ceq 'cairn evidence verify -t ""' 4 "sgx tdx snp tpm az-snp-vtpm az-tdx-vtpm"
ceq 'cairn tpm predict --bank ""' 4 "sha1 sha256 sha384 sha512"
ceq 'cairn completion ""' 2 "bash zsh fish"
ceq 'cairn manifest check --' 3 --help
# a file flag completes file names
touch "$WORK/recov-data.json"
ceq "cairn manifest set --recoverydata $WORK/recov-d" 4 "$WORK/recov-data.json"
# a manifest-like argument that is also a subcommand name does not derail the path
ceq 'cairn manifest set set --rec' 4 --recoverydata

# Every command of the tree, from --help: the groups complete to their
# commands, every leaf's flags to what its help lists (and not the flags
# its help says have no effect), and every leaf's help has an example.
leaves=0
walk() {   # walk PATH...
  local help subs sub flags want noeffect
  help=$(cli "$@" --help) || { bad "cairn $* --help failed"; return; }
  subs=$(sed -n '/^commands:/,/^$/p' <<<"$help" | awk 'NR>1 && NF {print $1}' | tr '\n' ' ')
  if [ -n "$subs" ]; then
    [ "$(comp "cairn $* \"\"" $(($# + 1)))" = "${subs% }" ] && ok "bash: cairn $* completes to its commands: ${subs% }" \
      || bad "bash: cairn $*: '$(comp "cairn $* \"\"" $(($# + 1)))' vs help '${subs% }'"
    for sub in $subs; do walk "$@" "$sub"; done
    return
  fi
  leaves=$((leaves + 1))
  want=$(sed -n '/^flags:/,/^$/p;/^Coordinator flags/,/^$/p' <<<"$help" | grep -oE -- '--[a-z0-9-]+' | sort -u | tr '\n' ' ')
  flags=$(comp "cairn $* --" $(($# + 1)) | tr ' ' '\n' | grep -- '^--' | sort -u | tr '\n' ' ')
  [ "$flags" = "$want" ] && ok "bash: cairn $* completes exactly the flags its help lists" \
    || bad "bash: cairn $* flags: completion '$flags' vs help '$want'"
  noeffect=$(grep '^accepted for MarbleRun scripts' <<<"$help" | grep -oE -- '--[a-z0-9-]+' | tr '\n' ' ')
  for f in $noeffect; do
    [[ " $want " == *" $f "* ]] && bad "cairn $* lists $f both as a flag and as without effect"
  done
  grep -A1 -E '^examples?:$' <<<"$help" | grep -qE "^  (.*[ (])?cairn $*([ )]|$)" \
    && ok "cairn $* --help has an example of itself" || bad "cairn $* --help: no example: $(tail -3 <<<"$help")"
}
walk
[ "$leaves" -ge 25 ] && ok "walked $leaves commands" || bad "walked only $leaves commands"

# Offline commands do not list the Coordinator flags, online ones do (and still accept them all).
help=$(cli manifest signature --help)
! sed -n '/^flags:/,/^$/p' <<<"$help" | grep -q -- --coordinator-policy && ! grep -q '^Coordinator flags' <<<"$help" \
  && grep -q '^accepted for MarbleRun scripts, without effect here:.*--coordinator-policy' <<<"$help" \
  && ok "manifest signature (offline): Coordinator flags only as 'without effect'" || bad "manifest signature help: $help"
cli manifest signature "$(cd "$(dirname "$0")/../../.." && pwd)/samples/demo/manifest.json" -i --coordinator-cert x -n y \
  >/dev/null 2>&1 && ok "... and still accepts them (MarbleRun scripts)" || bad "offline command refuses global flags"
grep -q '^Coordinator flags' <<<"$(cli status --help)" && ok "status (online): lists the Coordinator flags" \
  || bad "status help lacks the Coordinator flags"

# zsh: the script parses and its _cairn offers the same words (compadd/_files stubbed: no terminal needed)
if command -v zsh >/dev/null; then
  cli completion zsh >"$WORK/_cairn"
  zsh -n "$WORK/_cairn" && ok "zsh script parses" || bad "zsh -n failed"
  head -1 "$WORK/_cairn" | grep -qx '#compdef cairn' && ok "zsh script: #compdef cairn" || bad "zsh header"
  # zcomp WORDS CURRENT: zsh's CURRENT is 1-based (bash's COMP_CWORD + 1)
  zcomp() { zsh -f -c "compadd() { [ \"\$1\" = -- ] && shift; print -r -- \"\$@\"; }; _files() { print -r -- FILES; }
    source '$WORK/_cairn' >/dev/null; words=($1); CURRENT=$2; _cairn"; }
  [ "$(zcomp 'cairn manifest ""' 3)" = "set get verify signature log check update" ] && ok "zsh: cairn manifest -> its commands" \
    || bad "zsh: $(zcomp 'cairn manifest ""' 3)"
  [ "$(zcomp 'cairn evidence verify -t ""' 5)" = "sgx tdx snp tpm az-snp-vtpm az-tdx-vtpm" ] && ok "zsh: flag values" || bad "zsh: $(zcomp 'cairn evidence verify -t ""' 5)"
  [ "$(zcomp 'cairn manifest set -r ""' 5)" = FILES ] && ok "zsh: a file flag completes files" || bad "zsh file flag"
else
  bad "zsh not installed (scripts/install-deps.sh installs it)"
fi
# fish: the script parses and completes (complete -C runs fish's completion engine)
if command -v fish >/dev/null; then
  cli completion fish >"$WORK/cairn.fish"
  fish -n "$WORK/cairn.fish" && ok "fish script parses" || bad "fish -n failed"
  fcomp() { fish -c "source '$WORK/cairn.fish'; complete -C '$1'" | cut -f1 | tr '\n' ' '; }
  [ "$(fcomp 'cairn manifest ')" = "check get log set signature update verify " ] && ok "fish: cairn manifest -> its commands" \
    || bad "fish: $(fcomp 'cairn manifest ')"
  [ "$(fcomp 'cairn evidence verify -t ')" = "az-snp-vtpm az-tdx-vtpm sgx snp tdx tpm " ] && ok "fish: flag values" || bad "fish: $(fcomp 'cairn evidence verify -t ')"
  [ "$(fcomp 'cairn manifest get --ke')" = "--keep-cert " ] && ok "fish: flags" || bad "fish: $(fcomp 'cairn manifest get --ke')"
else
  bad "fish not installed (scripts/install-deps.sh installs it)"
fi

# --version, and exactly one "cairn:" prefix on every error
out=$(cli --version) && [[ $out == "cairn CLI version "* ]] && ok "cairn --version: $out" || bad "--version: $out"
[ "$(cli --version)" = "$(cli version)" ] && ok "--version = version" || bad "--version differs from version"
onep() {   # onep NAME CMD...: fails, and every stderr line has one "cairn: " prefix
  local rc=0
  "${@:2}" >/dev/null 2>"$WORK/err" || rc=$?
  if [ $rc -eq 0 ]; then bad "$1: exit 0"
  elif grep -q 'cairn: cairn' "$WORK/err" || grep -vq '^cairn: ' "$WORK/err"; then bad "$1: $(cat "$WORK/err")"
  else ok "$1: one prefix: $(head -1 "$WORK/err")"; fi
}
onep "unknown flag" cli status --bogus x
onep "unknown flag at the top" cli --bogus
onep "argument count" cli status
onep "argument count, nested" cli manifest update cancel
onep "unknown command" cli frob
onep "group without command" cli manifest
onep "evidence verify: bad --time" cli evidence verify --time yesterday "$WORK/c.bash"
onep "evidence verify: bad --type" cli evidence verify -t sev "$WORK/c.bash"
onep "completion: unknown shell" cli completion tcsh
finish
