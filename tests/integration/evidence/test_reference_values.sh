#!/usr/bin/env bash
# `cairn evidence eventlog --reference-values` on real event logs from the
# shared test vectors: the package it prints must hold the values the real
# quotes of the same boot carry (PCR 8 included), must be accepted by
# `cairn evidence verify --policy` on those quotes and refused once a value
# changes; every pinned register names the events that fed it.
#   TCG: GCE COS 85 (gce_cos85_nonce9009: event log + SHA-1/256/384 quotes)
#   CCEL: GCE COS 113 TD (gotdx_ccel_data + table + TDX quote), and the OVMF
#         CCEL whose RTMRs trustee's deps/eventlog test asserts.
# Usage: test_reference_values.sh BIN_DIR. Skips (77) without CAIRN_SHARED_DIR.
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
if [ -z "${CAIRN_SHARED_DIR:-}" ] || [ ! -f "$CAIRN_SHARED_DIR/testvectors/tpm/gce_cos85_nonce9009.eventlog.bin" ]; then
  echo "SKIP: CAIRN_SHARED_DIR is not set or has no testvectors/ (needs the shared test vectors)"
  exit 77
fi
for t in jq openssl; do command -v $t >/dev/null || { echo "SKIP: $t is not installed"; exit 77; }; done
TV="$CAIRN_SHARED_DIR/testvectors"
P=$TV/tpm
T=$TV/tdx
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-refval.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FAILS=0
CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
cairn() { "$BIN/cairn" "$@"; }

# ---- TCG: GCE COS 85, every bank the quotes have ----------------------------
openssl x509 -inform DER -in "$TV/roots/gce_tpm_ek_root_1.der" -out "$WORK/gce_root.pem"
for bank in sha1 sha256 sha384; do
  if ! cairn evidence eventlog --reference-values --bank $bank "$P/gce_cos85_nonce9009.eventlog.bin" \
    >"$WORK/ref-$bank.json" 2>"$WORK/err"; then
    bad "$bank: reference values: $(cat "$WORK/err")"
    continue
  fi
  Q="$P/gce_cos85_nonce9009.quote_$bank.pcrs.json"
  idx=$(jq -r ".package.PCRs.$bank | keys_unsorted | join(\",\")" "$WORK/ref-$bank.json")
  same=0
  diff=""
  for i in ${idx//,/ }; do
    if [ "$(jq -r ".package.PCRs.$bank.\"$i\"" "$WORK/ref-$bank.json")" = "$(jq -r ".pcrs.\"$i\"" "$Q")" ]; then
      same=$((same + 1))
    else diff+=" $i"; fi
  done
  [ -z "$diff" ] && [[ ",$idx," == *",8,"* ]] && [ "$same" -ge 9 ] &&
    ok "$bank: the log's PCRs $idx equal the quoted ones (PCR 8 included)" || bad "$bank: PCRs$diff differ (of $idx)"
  # the package (with the AK root) accepted by the quote of the same boot
  jq --arg r "$(cat "$WORK/gce_root.pem")" '.package + {AKRoots: [$r]}' "$WORK/ref-$bank.json" >"$WORK/pkg-$bank.json"
  GCE=(--root "$TV/roots/gce_tpm_ek_root_1.der" --type tpm "$P/gce_cos85_nonce9009.quote_$bank.tpms_attest"
    --signature "$P/gce_cos85_nonce9009.quote_$bank.tpmt_signature" --ak "$P/gce_cos85_nonce9009.ak_pub.tpmt_public"
    --cert "$P/gce_cos85_nonce9009.ak_cert.der" --cert "$TV/roots/gce_tpm_ek_intermediate_2.der" --pcrs "$Q")
  if cairn evidence verify --nonce 9009 "${GCE[@]}" --policy "$WORK/pkg-$bank.json" >"$WORK/v.out" 2>&1 &&
    [ "$(jq -r .policy.matched "$WORK/v.out")" = true ]; then
    ok "$bank: cairn evidence verify --policy <reference values> accepts the GCE quote"
  else bad "$bank: policy refused: $(tail -c 300 "$WORK/v.out")"; fi
  jq --arg b $bank '.PCRs[$b]["8"] |= (if startswith("0") then "1" + .[1:] else "0" + .[1:] end)' \
    "$WORK/pkg-$bank.json" >"$WORK/pkg-bad.json"
  if cairn evidence verify --nonce 9009 "${GCE[@]}" --policy "$WORK/pkg-bad.json" >"$WORK/v.out" 2>&1; then
    bad "$bank: a changed PCR 8 was accepted"
  elif grep -q "PCRs.$bank.8 mismatch" "$WORK/v.out"; then ok "$bank: a changed PCR 8 is refused"
  else bad "$bank: changed PCR 8: $(tail -c 300 "$WORK/v.out")"; fi
done
# events name what fed each register: PCR 8 is GRUB's commands and the kernel command line
R="$WORK/ref-sha256.json"
n8=$(jq '.events.pcr8 | length' "$R")
ipl8=$(jq -r '[.events.pcr8[] | select(.type == "EV_IPL")] | length' "$R")
cmd8=$(jq -r '[.events.pcr8[] | .text // "" | select(startswith("kernel_cmdline: /syslinux/vmlinuz.A"))] | length' "$R")
[ "$n8" -gt 0 ] && [ "$ipl8" = "$n8" ] && [ "$cmd8" = 1 ] &&
  ok "PCR 8: $n8 EV_IPL events (GRUB commands, the kernel command line) named with their text" ||
  bad "PCR 8 events: $(jq -c '.events.pcr8[0:2]' "$R")"
[ "$(jq '[.package.PCRs.sha256 | keys[] | select(. as $k | $R[0].events["pcr" + $k] == null)] | length' --slurpfile R "$R" "$R")" = 0 ] &&
  ok "every pinned PCR has its events listed" || bad "a pinned PCR without events"
jq -e '[.events[][] | select(.variable == "SecureBoot")] | length > 0' "$R" >/dev/null &&
  ok "UEFI variable events are named (SecureBoot found in PCR 7's events)" || bad "no SecureBoot variable event"
# each event's digest replays to the package value (an independent replay of the listed digests)
rep=$(jq -r '.events.pcr8[].digest' "$R" | python3 -c '
import hashlib, sys
v = bytes(32)
for line in sys.stdin:
    v = hashlib.sha256(v + bytes.fromhex(line.strip())).digest()
print(v.hex())' 2>/dev/null)
[ -n "$rep" ] && [ "$rep" = "$(jq -r '.package.PCRs.sha256."8"' "$R")" ] && ok "PCR 8's listed digests replay to the pinned value" ||
  bad "PCR 8 digests replay to $rep"

# ---- CCEL: GCE COS 113 TD ------------------------------------------------------
if cairn evidence eventlog --reference-values "$T/gotdx_ccel_data.dat" --ccel-table "$T/gotdx_ccel_table.dat" \
  >"$WORK/ccel.json" 2>"$WORK/err"; then
  cairn evidence verify --time 2025-01-01T00:00:00Z "$T/gotdx_cos-113-tdx-quote.dat" >"$WORK/td.json" 2>&1
  good=0
  for i in 0 1 2; do
    [ "$(jq -r ".package.RTMR.\"$i\"" "$WORK/ccel.json")" = "$(jq -r ".rtmr$i" "$WORK/td.json")" ] && good=$((good + 1))
  done
  [ $good = 3 ] && [ "$(jq -r '.package.TEE' "$WORK/ccel.json")" = tdx ] && [ "$(jq -r '.package.RTMR."3"' "$WORK/ccel.json")" = null ] &&
    ok "CCEL: RTMR0..2 equal the TD quote's (RTMR3 untouched, not pinned)" || bad "CCEL RTMRs: $(jq -c .package "$WORK/ccel.json")"
  # + the MRTD of the quote (a log cannot give it); this TD quote comes without collateral
  jq --arg m "$(jq -r .mrtd "$WORK/td.json")" '.package + {MRTD: $m, AcceptedTCBStatuses: ["NoCollateral"]}' \
    "$WORK/ccel.json" >"$WORK/tdpkg.json"
  if cairn evidence verify --time 2025-01-01T00:00:00Z "$T/gotdx_cos-113-tdx-quote.dat" --policy "$WORK/tdpkg.json" \
    >"$WORK/v.out" 2>&1; then ok "CCEL: the package (+ MRTD) accepts the TD quote"
  else bad "CCEL package refused: $(tail -c 300 "$WORK/v.out")"; fi
  jq '.RTMR["1"] |= (if startswith("0") then "1" + .[1:] else "0" + .[1:] end)' "$WORK/tdpkg.json" >"$WORK/tdbad.json"
  if cairn evidence verify --time 2025-01-01T00:00:00Z "$T/gotdx_cos-113-tdx-quote.dat" --policy "$WORK/tdbad.json" \
    >"$WORK/v.out" 2>&1; then bad "CCEL: a changed RTMR1 was accepted"
  elif grep -q "rtmr1 mismatch" "$WORK/v.out"; then ok "CCEL: a changed RTMR1 is refused ($(grep -o 'rtmr1 mismatch.*' "$WORK/v.out" | head -c 60))"
  else bad "CCEL changed RTMR1: $(tail -c 300 "$WORK/v.out")"; fi
  [ "$(jq '[.events | keys[]] | join(",")' -r "$WORK/ccel.json")" = "rtmr0,rtmr1,rtmr2" ] &&
    ok "CCEL: events listed for rtmr0..2 ($(jq '[.events[] | length] | add' "$WORK/ccel.json") records)" ||
    bad "CCEL events: $(jq -c '.events | keys' "$WORK/ccel.json")"
else
  bad "CCEL reference values: $(cat "$WORK/err")"
fi
# OVMF CCEL: trustee's test_rtmr_integrity values
if cairn evidence eventlog --reference-values "$T/trustee_ccel_ovmf.bin" >"$WORK/ovmf.json" 2>"$WORK/err"; then
  [ "$(jq -r '.package.RTMR."0"' "$WORK/ovmf.json")" = 8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193 ] &&
    [ "$(jq -r '.package.RTMR."1"' "$WORK/ovmf.json")" = 775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6 ] &&
    [ "$(jq -r '.package.RTMR."2"' "$WORK/ovmf.json")" = 94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a ] &&
    ok "OVMF CCEL: RTMR0..2 as trustee's deps/eventlog test asserts" || bad "OVMF CCEL: $(jq -c .package "$WORK/ovmf.json")"
else bad "OVMF CCEL: $(cat "$WORK/err")"; fi

# ---- refusals
if cairn evidence eventlog --reference-values --bank md5 "$P/gce_cos85_nonce9009.eventlog.bin" >/dev/null 2>"$WORK/err"; then
  bad "--bank md5 accepted"; else grep -q "expected sha1, sha256" "$WORK/err" && ok "--bank md5 refused" || bad "--bank md5: $(cat "$WORK/err")"; fi
if cairn evidence eventlog --reference-values --bank sha512 "$P/gce_cos85_nonce9009.eventlog.bin" >/dev/null 2>"$WORK/err"; then
  bad "a bank the log lacks accepted"; else grep -q "has no sha512 bank" "$WORK/err" && ok "a bank the log lacks is refused" || bad "sha512: $(cat "$WORK/err")"; fi
head -c 100 "$P/gce_cos85_nonce9009.eventlog.bin" >"$WORK/trunc.bin"
if cairn evidence eventlog --reference-values "$WORK/trunc.bin" >"$WORK/out" 2>"$WORK/err"; then
  bad "a truncated log gave reference values"; else [ ! -s "$WORK/out" ] && ok "a truncated log: refused, nothing printed ($(head -c 100 "$WORK/err"))" || bad "truncated: output written"; fi

echo "$CHECKS checks, $FAILS failed"
[ $FAILS -eq 0 ]
