#!/usr/bin/env bash
# Every flag of `marblerun` (v1.x, docs/docs/reference/cli.md of MarbleRun:
# the facts below, per command) is accepted by `cairn` for the same command,
# with the same short form, except the Kubernetes commands (install,
# uninstall, precheck, check: not provided, docs/cli.md). A flag missing from
# the table fails this test.
source "$(dirname "$0")/harness.sh"
GLOBAL="--accepted-advisories --accepted-tcb-statuses --coordinator-cert --era-config -i,--insecure -n,--namespace --nonce --save-sgx-quote"
AUTH="-c,--cert -k,--key --pkcs11-cert-id --pkcs11-cert-label --pkcs11-config --pkcs11-key-id --pkcs11-key-label"
while IFS=: read -r cmd flags; do
  # shellcheck disable=SC2086
  help=$(cli $cmd --help 2>&1) || { bad "$cmd --help failed: $help"; continue; }
  for f in $flags $GLOBAL; do
    long=${f#*,}; short=${f%%,*}; [ "$short" = "$f" ] && short=""
    if ! grep -qE -- "(^|[ ,])$long( |$)" <<<"$help"; then
      bad "cairn $cmd lacks $long"
    elif [ -n "$short" ] && ! grep -qE -- "$short, $long( |$)" <<<"$help"; then
      bad "cairn $cmd: $long without its short form $short"
    else
      ok "cairn $cmd accepts $f"
    fi
  done
done <<EOF2
certificate chain:-o,--output
certificate intermediate:-o,--output
certificate root:-o,--output
manifest get:-u,--display-update --keep-cert -o,--output -s,--signature
manifest log:-o,--output
manifest set:-r,--recoverydata
manifest signature:
manifest verify:
manifest update acknowledge:$AUTH -r,--recoverydata
manifest update apply:$AUTH -r,--recoverydata
manifest update cancel:$AUTH
manifest update get:--missing -o,--output
recover:-k,--key --pkcs11-config --pkcs11-key-id --pkcs11-key-label
recover-with-signature:-s,--signature --coordinator-pub-key -k,--key -o,--output --pkcs11-config --pkcs11-key-id --pkcs11-key-label
secret get:$AUTH -o,--output
secret set:$AUTH --from-pem
status:
package-info:
version:
EOF2
# the flags are accepted by the parser, not only listed: a real run with all
# of a command's value-less flags and MarbleRun's flag order
start_coordinator A
cli manifest set "$(cd "$(dirname "$0")/../../.." && pwd)/samples/demo/manifest.json" "$A_CLIENT" -n marblerun -i >/dev/null 2>&1 \
  && cli manifest get "$A_CLIENT" --keep-cert -s -u -o "$WORK/m.json" --namespace x -i >/dev/null 2>&1 \
  && ok "manifest get --keep-cert -s -u -o ... -n ... runs" || bad "manifest get with MarbleRun's flags"
finish
