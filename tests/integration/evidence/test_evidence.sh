#!/usr/bin/env bash
# `cairn evidence verify|eventlog` on every vector set of the shared test
# vectors, at the verification times of their SOURCES.md, with the printed
# claims checked against the ground truth there (jq); mutated copies fail with
# exit 1 and one line on stderr; collateral and certificates that have expired
# by now fail at the present time. Offline: no network, no daemons.
# Usage: test_evidence.sh BIN_DIR (or env CAIRN_BIN_DIR). Exit 77 = skipped.
set -uo pipefail

BIN=${1:-${CAIRN_BIN_DIR:-}}
CAIRN="$BIN/cairn"
if [ -z "${CAIRN_SHARED_DIR:-}" ] || [ ! -d "$CAIRN_SHARED_DIR/testvectors" ]; then
  echo "SKIP: CAIRN_SHARED_DIR is not set or has no testvectors/ (needs the shared test vectors)"
  exit 77
fi
[ -x "$CAIRN" ] || { echo "FAIL: no cairn binary at $CAIRN"; exit 1; }
command -v jq >/dev/null || { echo "FAIL: jq is required (scripts/install-deps.sh installs it)"; exit 1; }
TV="$CAIRN_SHARED_DIR/testvectors"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-evidence.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out.json"
ERR="$WORK/err.txt"
CHECKS=0
FAILS=0
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)

rev_hex() { echo "$1" | fold -w2 | tac | tr -d '\n'; }
pass() { CHECKS=$((CHECKS + 1)); }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }

# ok DESC ARGS...: cairn evidence ARGS must exit 0 with JSON on stdout.
ok() {
  local desc=$1; shift
  local rc=0
  "$CAIRN" evidence "$@" >"$OUT" 2>"$ERR" || rc=$?
  if [ $rc -eq 0 ] && jq -e . "$OUT" >/dev/null 2>&1; then
    pass; echo "ok   $desc"
  else
    fail "$desc: exit $rc: $(head -c 400 "$ERR")"
    echo '{}' >"$OUT"
  fi
}

# claim JQ EXPECTED: the last ok's output has JQ == EXPECTED (jq -r text).
claim() {
  local got
  got=$(jq -r "$1" "$OUT" 2>/dev/null)
  if [ "$got" == "$2" ]; then pass; else fail "claim $1: got '$got', want '$2'"; fi
}

# has_check NAME: the checks array of the last ok names NAME.
has_check() {
  if jq -e --arg c "$1" '.checks | index($c) != null' "$OUT" >/dev/null; then pass; else fail "check $1 did not run"; fi
}

# no DESC ERE ARGS...: cairn evidence ARGS must exit 1 with nothing but one
# line "cairn: ..." on stderr, matching the extended regular expression ERE.
no() {
  local desc=$1 want=$2; shift 2
  local rc=0
  "$CAIRN" evidence "$@" >"$OUT" 2>"$ERR" || rc=$?
  local lines
  lines=$(wc -l <"$ERR")
  if [ $rc -ne 1 ]; then
    fail "$desc: exit $rc, want 1: $(head -c 300 "$ERR")"
  elif [ "$lines" -ne 1 ] || ! grep -q '^cairn: ' "$ERR"; then
    fail "$desc: stderr is not one 'cairn: ' line: $(head -c 300 "$ERR")"
  elif ! grep -qE -- "$want" "$ERR"; then
    fail "$desc: error lacks '$want': $(cat "$ERR")"
  else
    pass; echo "ok   $desc (refused: $(cut -c1-140 "$ERR"))"
  fi
}

# mutate SRC DST OFFSET OP: copy SRC to DST with byte OFFSET changed: OP is
# "+1" (add one), "^N" (xor N) or "=N" (set N), decimal N.
mutate() {
  local src=$1 dst=$2 off=$3 op=$4 v
  cp "$src" "$dst"
  v=$(od -An -tu1 -j "$off" -N1 "$src" | tr -d ' ')
  case "$op" in
  +1) v=$(((v + 1) & 255)) ;;
  ^*) v=$((v ^ ${op#^})) ;;
  =*) v=${op#=} ;;
  esac
  printf "\\x$(printf %02x "$v")" | dd of="$dst" bs=1 seek="$off" conv=notrunc status=none
}

echo "== SGX"
S=$TV/sgx
MC=($S/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json $S/mobilecoin_qe_identity.json $S/mobilecoin_tcb_signer.pem
  $S/mobilecoin_root_crl.der $S/mobilecoin_root_ca.pem)
ok "sgx mobilecoin + full collateral at 2023-07-12T20:48:25Z" verify --require-collateral --time 2023-07-12T20:48:25Z \
  "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
claim .type sgx
claim .mrenclave 840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4
claim .mrsigner 9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf
claim .isv_prod_id 0
claim .isv_svn 0
claim .tcb_status SWHardeningNeeded
claim '.advisory_ids | sort | join(",")' INTEL-SA-00334,INTEL-SA-00615
claim .qe_tcb_status UpToDate
claim .tcb_date 2023-02-15T00:00:00Z
claim .tcb_evaluation_data_number 15
claim .fmspc 00906ed50000
claim .ppid 7cd196834f0bd237fa3ec65dae404c5a
claim .qe_svn 9
claim .pce_svn 14
claim .verification_time 2023-07-12T20:48:25Z
for c in pck_chain qe_report_signature qe_report_binding quote_signature tcb_signing_chain tcb_info tcb_level qe_identity; do
  has_check $c
done
claim '[.supporting_files[].kind] | join(",")' tcb-info,qe-identity,certificates,crl,certificates
ok "sgx mobilecoin with a second platform's TCB info too (document set, FMSPC picks)" verify --time 2023-07-12T20:48:25Z \
  "$S/mobilecoin_hw_quote.dat" "$S/steward_icelake_xeon_tcbinfo.json" "${MC[@]}" "$S/steward_icelake_xeon_tcb_signing_chain.pem"
claim .tcb_status SWHardeningNeeded
claim .tcb_evaluation_data_number 15
no "sgx mobilecoin with only another platform's TCB info (single documents are checked as given)" "tcb info" verify --time 2023-07-12T20:48:25Z \
  "$S/mobilecoin_hw_quote.dat" "$S/steward_icelake_xeon_tcbinfo.json" "$S/steward_icelake_xeon_tcb_signing_chain.pem"
no "sgx mobilecoin at 2023-08-11T19:56:44Z (TCB info expired)" "tcb info: expired" verify \
  --time 2023-08-11T19:56:44Z "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
no "sgx mobilecoin at 2023-07-12T19:56:44Z (QE identity not yet valid)" "qe identity" verify \
  --time 2023-07-12T19:56:44Z "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
no "sgx mobilecoin at the present time ($NOW)" "expired|stale" verify "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
no "sgx mobilecoin with the stale processor CRL" "is stale" verify --time 2023-07-12T20:48:25Z \
  "$S/mobilecoin_hw_quote.dat" "${MC[@]}" "$S/mobilecoin_processor_crl.der"
mutate "$S/mobilecoin_hw_quote.dat" "$WORK/mc_b2.dat" 2 +1
no "sgx mobilecoin quote byte 2 += 1" "does not verify" verify --type sgx --time 2023-07-12T20:48:25Z \
  "$WORK/mc_b2.dat" "${MC[@]}"
# certification data type (u16 after the 4-byte signature data length at 0x1B0 + sig data)
mutate "$S/mcsgx_hw_quote.dat" "$WORK/mcsgx_qe.dat" $((0x234)) +1
no "sgx mcsgx QE report byte 0x234 += 1" "QE report signature" verify --time 2023-01-01T00:00:00Z "$WORK/mcsgx_qe.dat"
mutate "$S/mcsgx_hw_quote.dat" "$WORK/mcsgx_isv.dat" $((0x30)) +1
no "sgx mcsgx ISV report byte 0x30 += 1" "quote signature" verify --time 2023-01-01T00:00:00Z "$WORK/mcsgx_isv.dat"
mutate "$S/mcsgx_hw_quote.dat" "$WORK/mcsgx_ak.dat" $((0x1F4)) +1
no "sgx mcsgx attestation key byte 0x1F4 += 1" "does not verify" verify --time 2023-01-01T00:00:00Z "$WORK/mcsgx_ak.dat"
ok "sgx mcsgx (no collateral) at 2023-01-01" verify "$S/mcsgx_hw_quote.dat" --time 2023-01-01T00:00:00Z
claim .mrenclave 1dd0df84810e53e26b2b167dfe0f97cc4364085fe0bd41d5e18a759c21d5c189
claim .mrsigner d412a4f07ef83892a5915fb2ab584be31e186e5a4f95ab5f6950fd4eb8694d7b
claim .debug true
claim .fmspc 00906ed50000
claim '.warnings | length > 0' true

ok "sgx occlum (trustee) at 2024-06-01 with --report-data" verify --time 2024-06-01T00:00:00Z \
  --report-data 74657374 "$S/trustee_occlum_quote.dat"
claim .mrenclave 8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68
claim .mrsigner 83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e
claim .cpu_svn 06060c0cffff00000000000000000000
claim .misc_select 1
claim .qe_svn 8
claim .pce_svn 13
# trustee prints the platform instance ID byte-reversed; the claim keeps the certificate's order
claim .platform_instance_id "$(rev_hex 7a3a6941065cd5060bd93d3db2cfc0c8)"
claim .report_data 74657374$(printf '0%.0s' {1..120})
claim .fmspc 00606a000000
has_check report_data
no "sgx occlum with the wrong report data" "report data" verify --time 2024-06-01T00:00:00Z \
  --report-data 74657375 "$S/trustee_occlum_quote.dat"
# MarbleRun's 16-byte OE header in front of the quote is detected
n=$(stat -c %s "$S/trustee_occlum_quote.dat")
{ printf '\x01\x00\x00\x00\x02\x00\x00\x00'; printf "\\x$(printf %02x $((n & 255)))\\x$(printf %02x $((n >> 8)))\\x00\\x00\\x00\\x00\\x00\\x00"; cat "$S/trustee_occlum_quote.dat"; } >"$WORK/oe.dat"
ok "sgx occlum behind the OE header, type detected" verify --time 2024-06-01T00:00:00Z "$WORK/oe.dat"
claim .oe_header true
claim .mrenclave 8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68

STW=($S/steward_icelake_xeon_tcbinfo.json $S/steward_icelake_xeon_tcb_signing_chain.pem
  $S/steward_icelake_xeon_rootca_crl.der $S/steward_icelake_xeon_pckcrl_processor.der $S/steward_icelake_xeon_pckcrl_platform.der)
ok "sgx steward Ice Lake + TCB info + 3 CRLs at 2023-02-01" verify --time 2023-02-01T00:00:00Z \
  "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
claim .mrenclave 4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15
claim .mrsigner 7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a
claim .tcb_status OutOfDate
claim '.advisory_ids | sort | join(",")' INTEL-SA-00586,INTEL-SA-00614,INTEL-SA-00615,INTEL-SA-00657
claim .tcb_date 2021-11-10T00:00:00Z
has_check pck_crl
claim '.report_data[0:64]' e8fb117dc821f696a14df8c16e6b18045924873efcf5d3ca33300d1d40bc765c
no "sgx steward after the platform CRL's nextUpdate" "stale" verify --time 2023-02-24T12:00:00Z \
  "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
no "sgx steward at the present time" "" verify "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"

echo "== SGX policy (manifest packages, tee_policy_match)"
cat >"$WORK/steward_pkg.json" <<'EOF'
{"SignerID": "7a49a07df0f8e90a6e1d9a63e3c696d9c844f0e3f8739b21daa640f99facc48a",
 "ProductID": 0, "SecurityVersion": 0,
 "AcceptedTCBStatuses": ["OutOfDate"],
 "AcceptedAdvisories": ["INTEL-SA-00289", "INTEL-SA-00381", "INTEL-SA-00389", "INTEL-SA-00477", "INTEL-SA-00586",
                        "INTEL-SA-00614", "INTEL-SA-00615", "INTEL-SA-00617", "INTEL-SA-00657"]}
EOF
ok "sgx steward matches its package (steward.toml values)" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/steward_pkg.json" "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
claim .policy.matched true
jq '.AcceptedTCBStatuses = []' "$WORK/steward_pkg.json" >"$WORK/steward_strict.json"
no "sgx steward refused when OutOfDate is not accepted" "OutOfDate" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/steward_strict.json" "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
claim .policy.matched false
# advisories are matched for SWHardeningNeeded (MarbleRun's rule): mobilecoin
jq -n '{SignerID: "9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf", ProductID: 0,
        SecurityVersion: 0, AcceptedTCBStatuses: ["SWHardeningNeeded"],
        AcceptedAdvisories: ["INTEL-SA-00334", "INTEL-SA-00615"]}' >"$WORK/mc_pkg.json"
ok "sgx mobilecoin matches a package accepting its two advisories" verify --time 2023-07-12T20:48:25Z \
  --policy "$WORK/mc_pkg.json" "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
claim .policy.matched true
jq '.AcceptedAdvisories = ["INTEL-SA-00334"]' "$WORK/mc_pkg.json" >"$WORK/mc_adv.json"
no "sgx mobilecoin refused with INTEL-SA-00615 not accepted" "INTEL-SA-00615" verify --time 2023-07-12T20:48:25Z \
  --policy "$WORK/mc_adv.json" "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
jq '.SignerID = "00" + .SignerID[2:]' "$WORK/steward_pkg.json" >"$WORK/steward_signer.json"
jq '{UniqueID: "4046ea255f0455131a024e1265ac1ebd131fdbd1240f1712a00381f6f04e8c15", AcceptedTCBStatuses,
     AcceptedAdvisories}' "$WORK/steward_pkg.json" >"$WORK/steward_unique.json"
ok "sgx steward matches a UniqueID (MRENCLAVE) package" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/steward_unique.json" "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
claim .policy.matched true
jq '.UniqueID = "11" + .UniqueID[2:]' "$WORK/steward_unique.json" >"$WORK/steward_unique2.json"
no "sgx steward refused with another UniqueID" "mrenclave" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/steward_unique2.json" "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
no "sgx steward refused with another SignerID" "mrsigner" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/steward_signer.json" "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
# a whole manifest: the package is named, or the only one of the TEE
jq -n --slurpfile p "$WORK/steward_pkg.json" \
  '{Packages: {steward: $p[0], web: {TEE: "tdx", MRTD: ("00" * 48)}}, Marbles: {m: {Package: "steward"}, w: {Package: "web"}}}' \
  >"$WORK/manifest.json"
ok "sgx steward against a manifest (package found by TEE)" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/manifest.json" "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
claim .policy.package steward
no "sgx steward against the manifest's TDX package" "is for tdx" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/manifest.json" --package web "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"

echo "== TDX"
T=$TV/tdx
ok "tdx SPR E4 quote v4 (no collateral) at 2023-07-01T01:00:00Z" verify --time 2023-07-01T01:00:00Z \
  "$T/gotdx_tdx_prod_quote_SPR_E4.dat"
claim .type tdx
claim .version 4
claim .mrtd 6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb
claim .rtmr0 2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a
claim .rtmr1 2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61
claim .rtmr2 8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e
claim .rtmr3 $(printf '0%.0s' {1..96})
claim .mr_seam 2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656
claim .td_attributes 0000004000000000
claim .xfam e71a060000000000
claim .report_data 6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113
claim .debug false
claim .tee_tcb_svn 03000400000000000000000000000000
claim .trailing_bytes 39
claim .fmspc 50806f000000
claim .ppid 089ddfdb9c0359c82a3bc7719239574e
claim .pck_pce_svn 11
claim .pck_cpu_svn 03030202020100020000000000000000
no "tdx SPR E4 at 2053-07-01 (PCK chain expired)" "expired" verify --time 2053-07-01T00:00:00Z \
  "$T/gotdx_tdx_prod_quote_SPR_E4.dat"
GTC=($T/gotdx_sample_tcbInfo_response.json $T/gotdx_sample_qeIdentity_response.json
  $T/gotdx_tcbinfo_qeidentity_issuer_chain.pem $T/gotdx_pckcrl_platform.der $T/gotdx_rootcrl.der $T/gotdx_pckcrl_issuer_chain.pem)
no "tdx SPR E4 + sample collateral: no matching TCB level (upstream negative test)" "no matching TCB level" verify \
  --time 2023-07-01T01:00:00Z "$T/gotdx_tdx_prod_quote_SPR_E4.dat" "${GTC[@]}"
no "tdx SPR E4 + collateral at 2053-07-01" "expired" verify --time 2053-07-01T00:00:00Z \
  "$T/gotdx_tdx_prod_quote_SPR_E4.dat" "${GTC[@]}"
# go-tdx-guest TestNegativeVerification byte mutations (quote[i] = v)
for m in "0:3:version" "$((0x278)):16:certification data" "$((0x1343)):50:" "$((0x1329)):50:" "$((0xF5F)):50:" \
  "$((0xB77)):50:" "$((0x1E)):50:signature" "$((0x3C)):50:signature"; do
  IFS=: read -r off val msg <<<"$m"
  mutate "$T/gotdx_tdx_prod_quote_SPR_E4.dat" "$WORK/tdx_m.dat" "$off" "=$val"
  no "tdx SPR E4 quote[$off] = $val" "$msg" verify --type tdx --time 2023-07-01T01:00:00Z "$WORK/tdx_m.dat"
done

ok "tdx COS 113 + CCEL + table + nonce file (TestReplayCcelWithTdQuote)" verify --time 2025-01-01T00:00:00Z \
  "$T/gotdx_cos-113-tdx-quote.dat" "$T/gotdx_ccel_data.dat" "$T/gotdx_ccel_table.dat" "$T/gotdx_nonce.dat"
claim .mrtd dae67181d3d65e073ad8f95b7907d5e927bfe9761c9ff3e9b89734a45d8954dba41394c7717cb2735396c1d04231f94a
claim .rtmr0 3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6
claim .rtmr1 f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1
claim .rtmr2 4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1
claim .ccel_rtmrs_compared 3
claim .trailing_bytes $((8000 - 4935))
claim .fmspc 00806f050000
has_check ccel_replay
has_check report_data
claim '[.supporting_files[].kind] | join(",")' ccel,ccel-table,nonce
ok "tdx COS 113 with the CCEL named by --eventlog/--ccel-table, --nonce-file" verify --time 2025-01-01T00:00:00Z \
  --eventlog "$T/gotdx_ccel_data.dat" --ccel-table "$T/gotdx_ccel_table.dat" --nonce-file "$T/gotdx_nonce.dat" \
  "$T/gotdx_cos-113-tdx-quote.dat"
has_check ccel_replay
no "tdx COS 113 with a non-zero nonce" "report data" verify --time 2025-01-01T00:00:00Z --nonce 01 \
  "$T/gotdx_cos-113-tdx-quote.dat"
no "tdx trustee quote 4 + a CCEL of another boot (upstream caution)" "ccel replay: RTMR0" verify \
  --time 2024-06-01T00:00:00Z "$T/trustee_tdx_quote_4.dat" "$T/trustee_CCEL_data"

ok "tdx quote v5 sample (TDX 1.5) at 2026-02-03T01:00:00Z" verify --time 2026-02-03T01:00:00Z "$T/gotdx_quote_v5_sample.dat"
claim .version 5
claim .mrtd 7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876
claim .rtmr0 5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bdae8cbc614cec24619
claim .rtmr1 463acaace1b6e97c76e92e41fe312aa66f3fd4dad60ec7acf169859db0343e3d1e591646795cdc80fbc0ca5f7041d253
claim .rtmr2 6369b9c9a3b791ebcbdc5a0bb9536cfb57f50df2b393b33c8b29616d3568baa61f4b59dc6092e31ea8764bcbdfc69f20
claim .report_data 945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a
claim .tee_tcb_svn 0b010400000000000000000000000000
claim .tee_tcb_svn2 0d010400000000000000000000000000
claim .td_attributes 0000001000000000
claim .xfam e702060000000000
claim .fmspc 90c06f000000
# the TCB info v5 with Intel's re-issued signing certificate (shipped in dcap-qvl's collateral)
jq -r .tcb_info_issuer_chain "$T/phala_tdx_quote_collateral.json" >"$WORK/tcb_chain.pem"
ok "tdx quote v5 + TCB info v5 at 2026-02-03T01:00:00Z" verify --time 2026-02-03T01:00:00Z \
  "$T/gotdx_quote_v5_sample.dat" --tcb-info "$T/gotdx_sample_tcbinfo_response_v5.json" --cert "$WORK/tcb_chain.pem"
claim .tcb_status UpToDate
claim .tcb_date 2024-11-13T00:00:00Z
claim .tcb_evaluation_data_number 18
no "tdx quote v5 + TCB info v5 after its nextUpdate" "tcb info: expired" verify --time 2026-03-03T14:49:26Z \
  "$T/gotdx_quote_v5_sample.dat" "$T/gotdx_sample_tcbinfo_response_v5.json" "$WORK/tcb_chain.pem"

ok "tdx trustee quote 4 at 2024-06-01" verify --time 2024-06-01T00:00:00Z "$T/trustee_tdx_quote_4.dat"
claim .version 4
claim .mrtd 705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b689cac1599ccea1b7d420483a9ce5f031
claim .rtmr0 e940da7c2712d2790e2961e00484f4fa8e6f9eed71361655ae22699476b14f9e63867eb41edd4b480fef0c59f496b288
claim .rtmr1 559cfcf42716ed6c40a48a73d5acb7da255435012f0a9f00fbe8c1c57612ede486a5684c4c9ff3ddf52315fcdca3a596
claim .report_data 7c71fe2c86eff65a7cf8dbc22b3275689fd0464a267baced1bf94fc1324656aeb755da3d44d098c0c87382f3a5f85b45c8a28fee1d3bdb38342bf96671501429
claim .debug true
claim .td_attributes 0100001000000000
claim .xfam e742060000000000
claim .tee_tcb_svn 03000500000000000000000000000000
claim .platform_instance_id "$(rev_hex 82548d228d94d5e204a95b354dc61a02)"
claim .fmspc 50806f000000
# a debug TD is refused by a package that does not say Debug; without
# collateral the package must accept "NoCollateral"
jq -n --arg m "$(jq -r .mrtd "$OUT")" '{TEE: "tdx", MRTD: $m, Debug: true}' >"$WORK/tdx_pkg.json"
no "tdx trustee quote 4 without collateral, package without NoCollateral" "NoCollateral" verify \
  --time 2024-06-01T00:00:00Z --policy "$WORK/tdx_pkg.json" "$T/trustee_tdx_quote_4.dat"
jq '.AcceptedTCBStatuses = ["NoCollateral"]' "$WORK/tdx_pkg.json" >"$WORK/tdx_pkg_dbg.json"
jq '.Debug = false' "$WORK/tdx_pkg_dbg.json" >"$WORK/tdx_pkg_nd.json"
no "tdx trustee quote 4 (debug) against a non-debug package" "debug" verify --time 2024-06-01T00:00:00Z \
  --policy "$WORK/tdx_pkg_nd.json" "$T/trustee_tdx_quote_4.dat"
ok "tdx trustee quote 4 against its package with Debug and NoCollateral" verify --time 2024-06-01T00:00:00Z \
  --policy "$WORK/tdx_pkg_dbg.json" "$T/trustee_tdx_quote_4.dat"
claim .policy.matched true

ok "tdx trustee quote 5 at 2025-01-01" verify --time 2025-01-01T00:00:00Z "$T/trustee_tdx_quote_5.dat"
claim .version 5
claim .mrtd dfba221b48a22af8511542ee796603f37382800840dcd978703909bf8e64d4c8a1e9de86e7c9638bfcba422f3886400a
claim .rtmr0 9b529f3689e2e8ebb899e9abbbc3dab394d6545e8cdb28a2abb9cc2f377b83a65c01ba56b824cd3ee885df20051f5128
claim .rtmr1 ca5a979317ffe8a527a3b7aadab03976d7cb6eef1041fb9bd9d69e6fafa7252cdc10e4c2a55e7ecbd2ddb5cacc867430
claim .mr_service_td 383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08b3f6cbd4a00dd47a5a033d
claim .tee_tcb_svn2 05010200000000000000000000000000
claim .fmspc 90c06f000000

ok "tdx Phala + dcap-qvl collateral bundle at 2025-07-19T10:00:34Z" verify --require-collateral \
  --time 2025-07-19T10:00:34Z "$T/phala_tdx_quote.bin" "$T/phala_tdx_quote_collateral.json"
claim .tcb_status UpToDate
claim '.advisory_ids | length' 0
claim .mrtd 91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7
claim .rtmr2 d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132
claim .report_data 9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20
claim .trailing_bytes 70
claim .fmspc b0c06f000000
for c in pck_crl tcb_signing_chain tcb_info tcb_level tdx_module_identity qe_identity; do has_check $c; done
no "tdx Phala + collateral at the present time" "expired|stale" verify "$T/phala_tdx_quote.bin" \
  "$T/phala_tdx_quote_collateral.json"
no "tdx Phala + collateral after the PCK CRL's nextUpdate (it expires first)" "stale" verify --time 2025-07-19T10:16:04Z \
  "$T/phala_tdx_quote.bin" "$T/phala_tdx_quote_collateral.json"
no "tdx Phala with --require-collateral and no collateral" "" verify --require-collateral \
  --time 2025-07-19T10:00:34Z "$T/phala_tdx_quote.bin"

echo "== SEV-SNP"
A=$TV/snp
ok "snp go-sev-guest Milan VCEK at 2023-01-01 with the report data asserted upstream" verify \
  --time 2023-01-01T00:00:00Z --report-data 0102030405 "$A/gosev_attestation.bin" "$A/gosev_vcek.der" \
  "$TV/roots/amd_milan_vcek_cert_chain.gosev.pem"
claim .type snp
claim .version 2
claim .measurement b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01
claim .host_data $(printf '0%.0s' {1..64})
claim .report_id 8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a
claim .chip_id 3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d
claim .policy $((0xB0000))
claim .vmpl 0
claim .platform_info 1
claim .debug true
claim .product Milan
claim .signing_key vcek
claim .reported_tcb.raw 4405000000000002
claim '[.current_tcb.bootloader, .current_tcb.tee, .current_tcb.snp, .current_tcb.microcode] | join(",")' 2,0,5,68
for c in report_format cert_chain product tcb_binding report_signature report_data; do has_check $c; done
no "snp go-sev-guest with the report data's last byte 1" "report data" verify --time 2023-01-01T00:00:00Z \
  --report-data 0102030405$(printf '0%.0s' {1..116})01 "$A/gosev_attestation.bin" "$A/gosev_vcek.der"
ok "snp go-sev-guest with the AMD Milan CRL (2022-05-09, 0 entries) at 2023-01-01" verify --time 2023-01-01T00:00:00Z \
  "$A/gosev_attestation.bin" "$A/gosev_vcek.der" "$TV/roots/amd_milan_crl_2022-05-09.der"
claim '[.supporting_files[].kind] | join(",")' certificates,crl
no "snp go-sev-guest with that CRL after its nextUpdate (2023-05-09)" "crl: nextUpdate" verify \
  --time 2023-06-01T00:00:00Z "$A/gosev_attestation.bin" "$A/gosev_vcek.der" "$TV/roots/amd_milan_crl_2022-05-09.der"
ok "snp trustee Milan VCEK (ID block) at 2024-01-01" verify --time 2024-01-01T00:00:00Z \
  "$A/trustee_test-report.bin" "$A/trustee_test-vcek.der"
claim .guest_svn 4
claim .policy $((0x3001F))
claim .measurement a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c
claim .id_key_digest 0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3
claim .report_id 385eba81216de4776548fcb86f8ead03c1ebc92b6207f3210d9ccebb89c99005
claim .current_tcb.raw ce08000000000003
claim .reported_tcb.raw 7308000000000003
claim '.report_data[0:64]' ec6c52d7533cc2c4f45be7849cf112ab82b2009fe7bd43e71ed08c14400ad7e2
mutate "$A/trustee_test-report.bin" "$WORK/snp42.bin" 42 +1
no "snp trustee report byte 42 += 1" "signature" verify --time 2024-01-01T00:00:00Z "$WORK/snp42.bin" \
  "$A/trustee_test-vcek.der"
mutate "$A/trustee_test-report.bin" "$WORK/snp384.bin" 384 +1
no "snp trustee reported_tcb byte 384 += 1" "" verify --time 2024-01-01T00:00:00Z "$WORK/snp384.bin" \
  "$A/trustee_test-vcek.der"
mutate "$A/trustee_test-vcek.der" "$WORK/vcek42.der" 42 +1
no "snp trustee VCEK DER byte 42 += 1" "" verify --time 2024-01-01T00:00:00Z "$A/trustee_test-report.bin" \
  --cert "$WORK/vcek42.der"
# SNP policy: Measurement, MinimumTCB, GuestSVN
jq -n '{TEE: "snp", Measurement: "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c",
        MinimumTCB: {Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}, GuestSVN: 4}' >"$WORK/snp_pkg.json"
ok "snp trustee against its package" verify --time 2024-01-01T00:00:00Z --policy "$WORK/snp_pkg.json" \
  "$A/trustee_test-report.bin" "$A/trustee_test-vcek.der"
claim .policy.matched true
jq '.MinimumTCB.Microcode = 116' "$WORK/snp_pkg.json" >"$WORK/snp_pkg2.json"
no "snp trustee against a package with a higher MinimumTCB" "" verify --time 2024-01-01T00:00:00Z \
  --policy "$WORK/snp_pkg2.json" "$A/trustee_test-report.bin" "$A/trustee_test-vcek.der"

ok "snp virtee Milan report from its .hex text at 2024-01-01" verify --time 2024-01-01T00:00:00Z \
  "$A/virtee_report_milan.hex" "$A/virtee_vcek_milan.der" "$A/virtee_cert_chain_milan.pem"
claim .evidence_decoded_from_text true
claim .measurement 7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f
claim .chip_id d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6
claim .report_data d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd
mutate "$A/virtee_report_milan.bin" "$WORK/virtee21.bin" 21 ^128
no "snp virtee report byte 21 ^= 0x80" "" verify --time 2024-01-01T00:00:00Z "$WORK/virtee21.bin" \
  "$A/virtee_vcek_milan.der"
mutate "$A/virtee_vcek_milan.der" "$WORK/virtee_vcek40.der" 40 ^255
no "snp virtee VCEK DER byte 40 ^= 0xff" "" verify --time 2024-01-01T00:00:00Z "$A/virtee_report_milan.bin" \
  --cert "$WORK/virtee_vcek40.der"

AKD=87ab7caf510e1b3520dc3cceb64ee44128e10976fb0d3fc5e274699d8aaf506154af4c1de0a026b49fdf861e9ac75551551b3534d1c61369a3b08f5baed0db2f
ok "snp AWS VLEK report v3 (base64 text) at 2025-06-01 with REPORT_DATA = AKDigest" verify \
  --time 2025-06-01T00:00:00Z --report-data $AKD "$A/constellation_aws_vlek_report.b64" "$A/constellation_aws_vlek.pem" \
  "$A/constellation_aws_vlek_certchain.pem"
claim .signing_key vlek
claim .version 3
claim .product Milan
claim .platform_info $((0x27))
claim .measurement 5a5cdbad8f540ce4abca0120faec86f62ef7128a4ac711add34d468b5957c82aa2f24e8f111dadc3689b787b88ed0715
claim .report_id 11a30447a624327f124a6d14be0d57d0196c50bca7f54b6d6a696db300297bad
claim .current_tcb.raw dc18000000000004
claim .reported_tcb.raw d918000000000004
claim .committed_tcb.raw db18000000000004
claim .chip_id $(printf '0%.0s' {1..128})
mutate "$A/constellation_aws_vlek_report.bin" "$WORK/vlek_sig.bin" $((0x2A0)) +1
no "snp AWS VLEK signature[0]++" "" verify --time 2025-06-01T00:00:00Z "$WORK/vlek_sig.bin" \
  "$A/constellation_aws_vlek.pem"
no "snp AWS VLEK with REPORT_DATA zeroed expected" "report data" verify --time 2025-06-01T00:00:00Z \
  --report-data 00 "$A/constellation_aws_vlek_report.bin" "$A/constellation_aws_vlek.pem"
no "snp AWS VLEK at the present time (VLEK valid only until 2025-12-10)" "expired" verify \
  "$A/constellation_aws_vlek_report.bin" "$A/constellation_aws_vlek.pem"

ok "snp Azure Genoa VCEK report v3 at 2025-06-01" verify --time 2025-06-01T00:00:00Z "$A/azure_genoa_snp_report.bin" \
  "$A/azure_genoa_vcek.pem"
claim .product Genoa
claim .guest_svn 65547
claim .platform_info $((0x24))
claim .measurement f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae
claim '.report_data[0:64]' b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f
claim .reported_tcb.raw 541700000000000a
no "snp Azure Genoa with the Milan VCEK" "" verify --time 2025-06-01T00:00:00Z "$A/azure_genoa_snp_report.bin" \
  "$A/virtee_vcek_milan.der"
# a self-signed certificate that is not a built-in AMD root is not trusted by being shipped along
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/k.pem" -out "$WORK/fake_ark.pem" \
    -subj /CN=ARK-Milan -days 1 >/dev/null 2>&1
  no "snp with a foreign self-signed 'ARK-Milan' among the files" "pass it with --root" verify \
    --time 2024-01-01T00:00:00Z "$A/trustee_test-report.bin" "$A/trustee_test-vcek.der" "$WORK/fake_ark.pem"
  no "snp with that foreign root as --root (the real chain no longer verifies)" "" verify \
    --time 2024-01-01T00:00:00Z "$A/trustee_test-report.bin" "$A/trustee_test-vcek.der" --root "$WORK/fake_ark.pem"
fi

echo "== TPM"
P=$TV/tpm
for bank in sha1 sha256 sha384; do
  ok "tpm GCE COS 85 $bank quote + AK cert chained to the GCE EK root + event log" verify --nonce 9009 \
    --root "$TV/roots/gce_tpm_ek_root_1.der" "$P/gce_cos85_nonce9009.quote_$bank.tpms_attest" \
    "$P/gce_cos85_nonce9009.quote_$bank.tpmt_signature" "$P/gce_cos85_nonce9009.ak_pub.tpmt_public" \
    "$P/gce_cos85_nonce9009.ak_cert.der" "$TV/roots/gce_tpm_ek_intermediate_2.der" \
    "$P/gce_cos85_nonce9009.quote_$bank.pcrs.json" "$P/gce_cos85_nonce9009.eventlog.bin"
  claim .type tpm
  claim .nonce 9009
  claim .sig_alg rsassa
  claim .hash_alg sha256
  claim .ak_name 000bf175bdb57297b2b289973f819863d6c9d09c236725676914f4248c9a2404c2a4
  claim ".pcrs.$bank | length" 24
  for i in 0 4 7 8 9; do claim ".pcrs.$bank.\"$i\"" "$(jq -r ".pcrs.\"$i\"" "$P/gce_cos85_nonce9009.quote_$bank.pcrs.json")"; done
  for c in quote_format ak_cert_chain quote_signature pcr_digest eventlog_replay nonce; do has_check $c; done
  claim '.warnings // [] | length' 0
done
claim '.pcrs.sha384."0" | length' 96
ok "tpm GCE sha256 bank: ground-truth PCR values" verify --nonce 9009 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  --signature "$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature" --ak "$P/gce_cos85_nonce9009.ak_pub.tpmt_public" \
  --cert "$P/gce_cos85_nonce9009.ak_cert.der" --cert "$TV/roots/gce_tpm_ek_intermediate_2.der" \
  --pcrs "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json" --eventlog "$P/gce_cos85_nonce9009.eventlog.bin" \
  --type tpm "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest"
claim '.pcrs.sha256."0"' 0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf
claim '.pcrs.sha256."4"' d690bdac2aa8b73a1d718cb91990df07d0747b07ea57b3b2d0f0d511f0d90491
claim '.pcrs.sha256."7"' 3365d7fa2b024c852913c06e04ffbfa6ea5289f743bbf1a76f7ffdf21ed84793
claim '.pcrs.sha256."8"' 9e9b6511ae6ad443aae4c7bf998ffffbcd271c874f1efab9d692f129eb6e6c18
claim '.pcrs.sha256."9"' e01c8cf808763422c5ede2cdb34595b92bd7d06b8bbd6014b54d2e95b14b0963
GCE=("$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature" "$P/gce_cos85_nonce9009.ak_pub.tpmt_public"
  "$P/gce_cos85_nonce9009.ak_cert.der" "$TV/roots/gce_tpm_ek_intermediate_2.der" "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json")
no "tpm GCE with the wrong nonce" "" verify --nonce 9008 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]}"
no "tpm GCE with a longer nonce (compared whole)" "nonce \\(extraData\\) is 9009, expected 900900" verify --nonce 900900 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]}"
no "tpm GCE without the intermediate" "AK certificate chain" verify --nonce 9009 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature" \
  "$P/gce_cos85_nonce9009.ak_cert.der" "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json"
no "tpm GCE with another root (GCE EK/AK CA root)" "AK certificate chain" verify --nonce 9009 \
  --root "$TV/roots/gce_ek_ak_ca_root.der" "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]}"
no "tpm GCE at 2052 (AK certificate expired)" "AK certificate chain" verify --time 2052-01-01T00:00:00Z --nonce 9009 \
  --root "$TV/roots/gce_tpm_ek_root_1.der" "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]}"
no "tpm GCE root shipped as a supporting file is not trusted" "pass it with --root" verify --nonce 9009 \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]}" "$TV/roots/gce_tpm_ek_root_1.der"
mutate "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "$WORK/q.attest" 60 ^1
no "tpm GCE quote byte 60 ^= 1" "" verify --type tpm --nonce 9009 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$WORK/q.attest" "${GCE[@]}"
mutate "$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature" "$WORK/q.sig" 100 ^1
no "tpm GCE signature byte 100 ^= 1" "signature" verify --nonce 9009 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" --signature "$WORK/q.sig" "${GCE[@]:1}"
jq '.pcrs."9" = ("00" * 32)' "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json" >"$WORK/pcrs.json"
no "tpm GCE with PCR9 changed in the PCR values" "pcrDigest" verify --nonce 9009 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]:0:4}" "$WORK/pcrs.json"
no "tpm GCE with another machine's event log" "" verify --nonce 9009 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "${GCE[@]}" "$P/gotpm_eventlog_cos-85-amd-sev.bin"

ok "tpm GCE Windows Shielded VM (RSASSA-SHA1, SHA-1 bank, legacy log), empty nonce" verify \
  "$P/goatt_windows.quote.tpms_attest" "$P/goatt_windows.quote.tpmt_signature" "$P/goatt_windows.ak_pub.tpmt_public" \
  "$P/goatt_windows.pcrs_sha1.json" "$P/goatt_windows.eventlog.bin"
claim .hash_alg sha1
claim .nonce ""
claim '.pcrs.sha1."0"' 51c323de0c0c694f4601cdd02beb58ff13629f74
claim '.pcrs.sha1."7"' 859a5877266b5c909613468091a73380a5386786
claim .ak_name 000b4ce9b151f75089d74c15dabe9d520cffafbcafd5d43be0aad2e2d88d54717e2e
has_check eventlog_replay
claim '[.warnings[] | select(test("not certified"))] | length' 1
no "tpm Windows quote with the GCE AK" "" verify "$P/goatt_windows.quote.tpms_attest" \
  "$P/goatt_windows.quote.tpmt_signature" "$P/gce_cos85_nonce9009.ak_pub.tpmt_public" "$P/goatt_windows.pcrs_sha1.json"

NONCE=0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f
ok "tpm Azure Genoa vTPM (raw RSASSA signature, PEM AK) with the upstream nonce" verify --nonce $NONCE \
  "$P/azure_genoa_tpm-quote.tpms_attest" "$P/azure_genoa_tpm-quote.rsassa_sha256.sig" "$P/azure_genoa_akpub.pem" \
  "$P/azure_genoa_tpm-quote.pcrs.json"
claim .nonce $NONCE
claim '.pcrs.sha256."0"' afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338
claim .firmware_version 2020031200120003
claim '[.supporting_files[].kind] | join(",")' tpm-signature,public-key,pcrs
mutate "$P/azure_genoa_tpm-quote.rsassa_sha256.sig" "$WORK/az.sig" 7 ^4
no "tpm Azure with signature byte 7 ^= 4" "signature" verify --nonce $NONCE "$P/azure_genoa_tpm-quote.tpms_attest" \
  --signature "$WORK/az.sig" "$P/azure_genoa_akpub.pem" "$P/azure_genoa_tpm-quote.pcrs.json"

# Azure CVM: the HCL report (SNP report + runtime data) and the vTPM quote signed by its AK
# (trustee test_evaluate_genoa: nonce = the TPM extraData, PCR0 afd689d0…)
AZN=0218488bae25d2509232bf676f1a66a30d7372add909109b36016ef136f2938ca05475f8b46094de6b64270ea35d950f
AZ=(--vtpm-quote "$TV/tpm/azure_genoa_tpm-quote.tpms_attest" --signature "$TV/tpm/azure_genoa_tpm-quote.rsassa_sha256.sig"
  --pcrs "$TV/tpm/azure_genoa_tpm-quote.pcrs.json")
ok "snp Azure HCL report + vTPM quote with the HCL AK and the upstream nonce" verify --time 2025-06-01T00:00:00Z \
  --nonce $AZN "$A/azure_genoa_hcl-report.bin" "$A/azure_genoa_vcek.pem" "${AZ[@]}"
claim .measurement f57dc09a507c6ecd82369bffb600f0003792f4d99bc26e985ec0c266fc34faf3706faf814c9e61065768a6ff917c89ae
has_check hcl_runtime_data
claim .hcl.runtime_data_hash b581f12e29a2d7d64e5e0b738d563879a78b51c644d0fa0cce02b48699f6bf5f
claim '.hcl.runtime_data.keys[0].kid' HCLAkPub
claim '.vtpm.pcrs.sha256."0"' afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338
claim .vtpm.nonce $AZN
claim '.vtpm.checks | index("ak_from_hcl_runtime_data") != null' true
claim '.vtpm.checks | index("nonce") != null' true
if command -v openssl >/dev/null; then
  ak1=$(jq -r .hcl.ak_pub "$OUT" | openssl pkey -pubin -outform der 2>/dev/null | base64 -w0)
  ak2=$(openssl pkey -pubin -in "$TV/tpm/azure_genoa_akpub.pem" -outform der 2>/dev/null | base64 -w0)
  if [ -n "$ak1" ] && [ "$ak1" == "$ak2" ]; then pass; else fail "HCL AK differs from tpm/azure_genoa_akpub.pem"; fi
fi
mutate "$A/azure_genoa_hcl-report.bin" "$WORK/hcl_rt.bin" $((0x4D4 + 100)) ^1
no "snp Azure HCL with one runtime-data byte changed" "hcl runtime data" verify --time 2025-06-01T00:00:00Z \
  "$WORK/hcl_rt.bin" "$A/azure_genoa_vcek.pem"
no "snp Azure HCL + vTPM quote with another nonce" "nonce" verify --time 2025-06-01T00:00:00Z --nonce 01 \
  "$A/azure_genoa_hcl-report.bin" "$A/azure_genoa_vcek.pem" "${AZ[@]}"
no "snp Azure HCL + the GCE quote (another AK)" "signature" verify --time 2025-06-01T00:00:00Z \
  "$A/azure_genoa_hcl-report.bin" "$A/azure_genoa_vcek.pem" --vtpm-quote "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" \
  --signature "$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature" --pcrs "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json"
rc=0; "$CAIRN" evidence verify --vtpm-quote "$TV/tpm/azure_genoa_tpm-quote.tpms_attest" --time 2025-06-01T00:00:00Z \
  "$A/azure_genoa_snp_report.bin" "$A/azure_genoa_vcek.pem" >/dev/null 2>&1 || rc=$?
if [ $rc -eq 2 ]; then pass; else fail "--vtpm-quote without an HCL report: exit $rc, want 2"; fi

# Azure TDX CVM: the TD quote is the evidence, the HCL report (TDREPORT + runtime data) comes with
# --hcl-report, the vTPM quote is signed by the HCL AK (Trustee's az-tdx-vtpm test data in
# tests/data/azure: nonce "challenge", PCR0 782b20b1…, as its test_evaluate asserts)
D=${CAIRN_TEST_DATA_DIR:-$(dirname "$0")/../../data}/azure
AZT=(--hcl-report "$D/az-tdx-vtpm_hcl-report.bin" --vtpm-quote "$D/az-tdx-vtpm_tpm-quote.tpms_attest"
  --signature "$D/az-tdx-vtpm_tpm-quote.rsassa_sha256.sig" --pcrs "$D/az-tdx-vtpm_tpm-quote.pcrs.json")
ok "tdx Azure TD quote + HCL report + vTPM quote with the HCL AK and nonce \"challenge\"" verify \
  --time 2025-06-01T00:00:00Z --nonce 6368616c6c656e6765 "$D/az-tdx-vtpm_td-quote.bin" "${AZT[@]}"
claim .type tdx
claim .mrtd 024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b
has_check hcl_runtime_data
claim .hcl.report_type 4
claim .hcl.runtime_data_hash 9734504f161d104c74e3165c15f779b06a9bb40dfa71937817d7eee68e593839
claim '.hcl.runtime_data."vm-configuration"."secure-boot"' true
claim '.vtpm.pcrs.sha256."0"' 782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273
claim .vtpm.nonce 6368616c6c656e6765
mutate "$D/az-tdx-vtpm_hcl-report.bin" "$WORK/tdx_hcl_rt.bin" $((0x880)) +1
no "tdx Azure HCL report with the runtime-data byte 0x880 changed (Trustee's mutation)" "hcl runtime data" verify \
  --time 2025-06-01T00:00:00Z "$D/az-tdx-vtpm_td-quote.bin" --hcl-report "$WORK/tdx_hcl_rt.bin"
mutate "$D/az-tdx-vtpm_hcl-report.bin" "$WORK/tdx_hcl_rd.bin" $((0x20 + 0x80)) ^1
no "tdx Azure HCL report whose TDREPORT is not the quoted one" "not the quoted report" verify \
  --time 2025-06-01T00:00:00Z "$D/az-tdx-vtpm_td-quote.bin" --hcl-report "$WORK/tdx_hcl_rd.bin"
no "tdx Azure with another nonce for the vTPM quote" "nonce" verify --time 2025-06-01T00:00:00Z --nonce 01 \
  "$D/az-tdx-vtpm_td-quote.bin" "${AZT[@]}"
no "tdx Azure HCL report with another TD quote (gotdx)" "not the quoted report" verify --time 2025-06-01T00:00:00Z \
  "$T/gotdx_tdx_prod_quote_SPR_E4.dat" --hcl-report "$D/az-tdx-vtpm_hcl-report.bin"
for bad in "$D/az-tdx-vtpm_hcl-report.bin" "$A/azure_genoa_hcl-report.bin --hcl-report $D/az-tdx-vtpm_hcl-report.bin"; do
  rc=0; "$CAIRN" evidence verify --time 2025-06-01T00:00:00Z $bad >/dev/null 2>"$ERR" || rc=$?
  if [ $rc -eq 2 ] && grep -q "hcl-report" "$ERR"; then pass; else fail "usage refusal for $bad: exit $rc: $(cat "$ERR")"; fi
done

# The same evidence as the CoCo attestation-agent sends it to a KBS (--type az-*-vtpm: one JSON)
ok "az-tdx-vtpm agent JSON (version 1) with report data \"challenge\"" verify --type az-tdx-vtpm \
  --time 2025-06-01T00:00:00Z --report-data 6368616c6c656e6765 "$D/az-tdx-vtpm_evidence-v1.json"
claim .tee az-tdx-vtpm
claim .type tdx
claim '.vtpm.pcrs.sha256."0"' 782b20b10f55cc46e2142cc2145d548698073e5beb82752c8d7f9279f0d8a273
has_check vtpm_nonce_report_data
ok "az-snp-vtpm agent JSON (version 2, user-data bound)" verify --type az-snp-vtpm --time 2025-06-01T00:00:00Z \
  --report-data 982f5c6e45df0ed3f10b6f60b02f0c8390e281300f3805e2279c16168cd6ae9aa398f647caa2338748cd0fd9f5f819ef \
  "$D/az-snp-vtpm_evidence-v2.json"
claim .vmpl 0
has_check hcl_user_data
echo '{"TEE":"tdx","MRTD":"024a32b070383331181619fa387cb4d55d1e38879f989933055ccad5bc2db795d1737b66205949d15469dc8c1ba7ab7b","AcceptedTCBStatuses":["NoCollateral"]}' >"$WORK/aztdx_pkg.json"
ok "az-tdx-vtpm agent JSON matches a tdx package (MRTD)" verify --type az-tdx-vtpm --time 2025-06-01T00:00:00Z \
  --report-data 6368616c6c656e6765 --policy "$WORK/aztdx_pkg.json" "$D/az-tdx-vtpm_evidence-v1.json"
claim .policy.matched true
sed 's/"MRTD":"02/"MRTD":"03/' "$WORK/aztdx_pkg.json" >"$WORK/aztdx_pkg2.json"
no "az-tdx-vtpm agent JSON against another MRTD" "does not match package" verify --type az-tdx-vtpm \
  --time 2025-06-01T00:00:00Z --report-data 6368616c6c656e6765 --policy "$WORK/aztdx_pkg2.json" \
  "$D/az-tdx-vtpm_evidence-v1.json"
no "az-tdx-vtpm agent JSON with another report data" "not the expected report data" verify --type az-tdx-vtpm \
  --time 2025-06-01T00:00:00Z --report-data 01 "$D/az-tdx-vtpm_evidence-v1.json"
no "az-tdx-vtpm agent JSON named az-snp-vtpm" "does not verify" verify --type az-snp-vtpm \
  --time 2025-06-01T00:00:00Z --report-data 6368616c6c656e6765 "$D/az-tdx-vtpm_evidence-v1.json"
rc=0; "$CAIRN" evidence verify --type az-tdx-vtpm "$D/az-tdx-vtpm_evidence-v1.json" >/dev/null 2>"$ERR" || rc=$?
if [ $rc -eq 2 ] && grep -q "report-data" "$ERR"; then pass; else fail "az-tdx-vtpm without --report-data: exit $rc"; fi

echo "== trust directory (--trust-dir, as a Coordinator's) and --accepted-* overrides"
TD="$WORK/trust"
mkdir -p "$TD/sgx" "$TD/tpm/roots"
cp "$S/mobilecoin_tcbinfo_fmspc_00906ED50000_2023_07_12.json" "$S/steward_icelake_xeon_tcbinfo.json" \
  "$S/mobilecoin_qe_identity.json" "$S/mobilecoin_tcb_signer.pem" "$TD/sgx/"
cp "$S/steward_icelake_xeon_rootca_crl.der" "$TD/sgx/root-old.crl" # superseded by the newer one
cp "$S/mobilecoin_root_crl.der" "$TD/sgx/root-new.crl"
cp "$TV/roots/gce_tpm_ek_root_1.der" "$TD/tpm/roots/"
cp "$TV/roots/gce_tpm_ek_intermediate_2.der" "$TD/tpm/"
ok "sgx mobilecoin with --trust-dir only" verify --require-collateral --trust-dir "$TD" --time 2023-07-12T20:48:25Z \
  "$S/mobilecoin_hw_quote.dat"
claim .tcb_status SWHardeningNeeded
claim '[.supporting_files[].kind] | join(",")' qe-identity,certificates,tcb-info,crl,crl,tcb-info
ok "tpm GCE with --trust-dir (root from tpm/roots/)" verify --trust-dir "$TD" --nonce 9009 \
  "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest" "$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature" \
  "$P/gce_cos85_nonce9009.ak_cert.der" "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json"
has_check ak_cert_chain
cp "$T/gotdx_nonce.dat" "$TD/sgx/nonce.bin"
no "a trust directory holding evidence" "evidence, not trust material" verify --trust-dir "$TD" \
  --time 2023-07-12T20:48:25Z "$S/mobilecoin_hw_quote.dat"
rm "$TD/sgx/nonce.bin"
ok "evidence trust-dir lists the directory" trust-dir "$TD"
claim '.sgx | length' 6
claim '[.tpm[].kind] | join(",")' certificates,roots
cp "$T/gotdx_nonce.dat" "$TD/sgx/nonce.bin"
no "evidence trust-dir refuses evidence in it" "nonce.bin.*evidence, not trust material" trust-dir "$TD"
rm "$TD/sgx/nonce.bin"
no "evidence trust-dir on a missing directory" "not a directory" trust-dir "$WORK/nope"
ok "sgx steward: --accepted-tcb-statuses OutOfDate overrides the strict policy" verify --time 2023-02-01T00:00:00Z \
  --policy "$WORK/steward_strict.json" --accepted-tcb-statuses OutOfDate "$S/steward_icelake_xeon_quote.dat" "${STW[@]}"
claim .policy.matched true
no "sgx mobilecoin: --accepted-advisories narrows the policy's list" "INTEL-SA-00615" verify \
  --time 2023-07-12T20:48:25Z --policy "$WORK/mc_pkg.json" --accepted-advisories INTEL-SA-00334 \
  "$S/mobilecoin_hw_quote.dat" "${MC[@]}"
rc=0; "$CAIRN" evidence verify --accepted-advisories X "$S/mobilecoin_hw_quote.dat" >/dev/null 2>&1 || rc=$?
if [ $rc -eq 2 ]; then pass; else fail "--accepted-advisories without --policy: exit $rc, want 2"; fi

echo "== wire form (activation request / Coordinator quote answer JSON)"
printf '{"quote": "%s"}' "$(base64 -w0 "$S/trustee_occlum_quote.dat")" >"$WORK/w_sgx.json"
ok "wire {\"quote\": b64} (SGX, MarbleRun's form)" verify --time 2024-06-01T00:00:00Z "$WORK/w_sgx.json"
claim .type sgx
claim .mrenclave 8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68
jq -n --arg q "$(base64 -w0 "$P/gce_cos85_nonce9009.quote_sha256.tpms_attest")" \
  --arg s "$(base64 -w0 "$P/gce_cos85_nonce9009.quote_sha256.tpmt_signature")" \
  --arg a "$(base64 -w0 "$P/gce_cos85_nonce9009.ak_pub.tpmt_public")" \
  --arg p "$(base64 -w0 "$P/gce_cos85_nonce9009.quote_sha256.pcrs.json")" \
  --arg l "$(base64 -w0 "$P/gce_cos85_nonce9009.eventlog.bin")" \
  --arg c "$(printf -- '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' \
    "$(base64 -w64 "$P/gce_cos85_nonce9009.ak_cert.der")")" \
  '{status: "success", data: {evidence: {type: "tpm", quote: $q, signature: $s, akPub: $a, pcrs: $p, eventlog: $l, certs: $c}}}' \
  >"$WORK/w_tpm.json"
ok "wire JSend {\"evidence\": {type tpm, ...}} with --nonce and --root" verify --nonce 9009 \
  --root "$TV/roots/gce_tpm_ek_root_1.der" "$WORK/w_tpm.json" "$TV/roots/gce_tpm_ek_intermediate_2.der"
claim .type tpm
for c in ak_cert_chain quote_signature pcr_digest eventlog_replay nonce; do has_check $c; done
claim '[.supporting_files[].kind] | join(",")' certificates,tpm-signature,tpm-public,pcrs,eventlog,roots,certificates
no "wire TPM with another nonce" "nonce" verify --nonce 9008 --root "$TV/roots/gce_tpm_ek_root_1.der" \
  "$WORK/w_tpm.json" "$TV/roots/gce_tpm_ek_intermediate_2.der"
no "wire form whose type contradicts --type" "fix --type" verify --type sgx "$WORK/w_tpm.json"
printf '{"evidence": {"type": "sim", "quote": "%s"}}' "$(head -c 64 /dev/zero | base64 -w0)" >"$WORK/w_sim.json"
no "wire simulation evidence" "proves nothing" verify "$WORK/w_sim.json"
echo '{"quote": "not base64!"}' >"$WORK/w_bad.json"
no "wire form with a quote that is not base64" "quote" verify "$WORK/w_bad.json"
if command -v openssl >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ck.pem" -out "$WORK/croot.pem" \
    -subj /CN=Coordinator -days 1 >/dev/null 2>&1
  jq -n --arg q "$(base64 -w0 "$S/trustee_occlum_quote.dat")" --rawfile c "$WORK/croot.pem" \
    '{status: "success", data: {Cert: $c, Quote: $q}}' >"$WORK/w_answer.json"
  fp=$(openssl x509 -in "$WORK/croot.pem" -outform der | sha256sum | cut -c1-64)
  no "Coordinator quote answer whose quote does not bind its root" "does not bind the Coordinator root certificate.*$fp.*without a nonce" \
    verify --time 2024-06-01T00:00:00Z "$WORK/w_answer.json"
  no "Coordinator quote answer with --nonce" "with this --nonce" verify --nonce abc --time 2024-06-01T00:00:00Z \
    "$WORK/w_answer.json"
  cat "$S/mobilecoin_tcb_signer.pem" "$WORK/croot.pem" >"$WORK/c2.pem"
  jq -n --arg q "$(base64 -w0 "$S/trustee_occlum_quote.dat")" --rawfile c "$WORK/c2.pem" \
    '{data: {cert: $c, quote: $q}, status: "success"}' >"$WORK/w_answer2.json"
  no "Coordinator quote answer whose intermediate is not the root's" "does not chain to the root" \
    verify --time 2024-06-01T00:00:00Z "$WORK/w_answer2.json"
fi

echo "== a mutated copy of each evidence (one byte of the signed report data or quote)"
# each: file offset args (the evidence verifies unmutated above)
while read -r f off args; do
  mutate "$TV/$f" "$WORK/mut.bin" "$off" ^1
  # shellcheck disable=SC2086
  no "mutated $f (byte $off ^= 1)" "does not verify" verify $args "$WORK/mut.bin"
done <<EOF
sgx/trustee_occlum_quote.dat 368 --time 2024-06-01T00:00:00Z
sgx/mcsgx_hw_quote.dat 368 --time 2023-01-01T00:00:00Z
sgx/mobilecoin_hw_quote.dat 368 --time 2023-07-12T20:48:25Z
sgx/steward_icelake_xeon_quote.dat 368 --time 2023-02-01T00:00:00Z
tdx/gotdx_tdx_prod_quote_SPR_E4.dat 568 --time 2023-07-01T01:00:00Z
tdx/gotdx_cos-113-tdx-quote.dat 568 --time 2025-01-01T00:00:00Z
tdx/gotdx_quote_v5_sample.dat 570 --time 2026-02-03T01:00:00Z
tdx/trustee_tdx_quote_4.dat 568 --time 2024-06-01T00:00:00Z
tdx/trustee_tdx_quote_5.dat 570 --time 2025-01-01T00:00:00Z
tdx/phala_tdx_quote.bin 568 --time 2025-07-19T10:00:34Z
snp/gosev_attestation.bin 80 --time 2023-01-01T00:00:00Z --cert $TV/snp/gosev_vcek.der
snp/trustee_test-report.bin 80 --time 2024-01-01T00:00:00Z --cert $TV/snp/trustee_test-vcek.der
snp/virtee_report_milan.bin 80 --time 2024-01-01T00:00:00Z --cert $TV/snp/virtee_vcek_milan.der
snp/constellation_aws_vlek_report.bin 80 --time 2025-06-01T00:00:00Z --cert $TV/snp/constellation_aws_vlek.pem
snp/azure_genoa_snp_report.bin 80 --time 2025-06-01T00:00:00Z --cert $TV/snp/azure_genoa_vcek.pem
tpm/gce_cos85_nonce9009.quote_sha1.tpms_attest 50 --type tpm --signature $TV/tpm/gce_cos85_nonce9009.quote_sha1.tpmt_signature --ak $TV/tpm/gce_cos85_nonce9009.ak_pub.tpmt_public --pcrs $TV/tpm/gce_cos85_nonce9009.quote_sha1.pcrs.json
tpm/gce_cos85_nonce9009.quote_sha384.tpms_attest 50 --type tpm --signature $TV/tpm/gce_cos85_nonce9009.quote_sha384.tpmt_signature --ak $TV/tpm/gce_cos85_nonce9009.ak_pub.tpmt_public --pcrs $TV/tpm/gce_cos85_nonce9009.quote_sha384.pcrs.json
tpm/goatt_windows.quote.tpms_attest 50 --type tpm --signature $TV/tpm/goatt_windows.quote.tpmt_signature --ak $TV/tpm/goatt_windows.ak_pub.tpmt_public --pcrs $TV/tpm/goatt_windows.pcrs_sha1.json
tpm/azure_genoa_tpm-quote.tpms_attest 50 --type tpm --signature $TV/tpm/azure_genoa_tpm-quote.rsassa_sha256.sig --ak $TV/tpm/azure_genoa_akpub.pem --pcrs $TV/tpm/azure_genoa_tpm-quote.pcrs.json
EOF

echo "== type detection and usage"
no "evidence of one type given --type of another" "fix --type" verify --type snp --time 2024-01-01T00:00:00Z \
  "$TV/sgx/trustee_occlum_quote.dat"
no "a supporting file of another TEE" "not used with sgx evidence" verify --time 2024-06-01T00:00:00Z \
  "$TV/sgx/trustee_occlum_quote.dat" "$P/azure_genoa_akpub.pem"
no "an unrecognisable supporting file" "not recognised" verify --time 2024-06-01T00:00:00Z \
  "$TV/sgx/trustee_occlum_quote.dat" "$TV/snp/azure_genoa_hcl-report.bin"
no "undetectable evidence without --type" "give --type" verify "$P/gotpm_eventlog_debian-10.bin"
rc=0; "$CAIRN" evidence verify --time yesterday x >/dev/null 2>&1 || rc=$?
if [ $rc -eq 2 ]; then pass; else fail "bad --time: exit $rc, want 2"; fi
rc=0; "$CAIRN" evidence verify --help >"$OUT" 2>&1 || rc=$?
if [ $rc -eq 0 ] && grep -q -- "--tcb-info" "$OUT"; then pass; else fail "verify --help"; fi
rc=0; "$CAIRN" evidence eventlog --help >"$OUT" 2>&1 || rc=$?
if [ $rc -eq 0 ] && grep -q -- "--ccel" "$OUT"; then pass; else fail "eventlog --help"; fi

echo "== event logs"
EXP="$P/gotpm_eventlogs_expected_pcrs.json"
for log in $(jq -r '.logs | keys[]' "$EXP"); do
  ok "eventlog $log" eventlog "$P/$log"
  claim .format tcg
  for bank in $(jq -r --arg l "$log" '.logs[$l].banks | keys[]' "$EXP"); do
    bad=$(jq -n --arg l "$log" --arg b "$bank" --slurpfile e "$EXP" --slurpfile o "$OUT" \
      '[$e[0].logs[$l].banks[$b] | to_entries[] | select(.value != $o[0].pcrs[$b][.key]) | .key] | join(",")')
    n=$(jq -r --arg l "$log" --arg b "$bank" '.logs[$l].banks[$b] | length' "$EXP")
    if [ "$bad" == '""' ] && [ "$n" -gt 0 ]; then pass; else fail "eventlog $log bank $bank: PCRs $bad differ"; fi
  done
done
ok "eventlog gdc-host StartupLocality" eventlog "$P/gotpm_eventlog_gdc-host.bin"
claim .startup_locality 3
ok "eventlog debian-10 (legacy SHA-1)" eventlog "$P/gotpm_eventlog_debian-10.bin"
claim .crypto_agile false
claim '.pcrs | keys | join(",")' sha1
ok "eventlog GCE COS 85 replays to the quoted PCR0..9 of every bank" eventlog "$P/gce_cos85_nonce9009.eventlog.bin"
for bank in sha1 sha256 sha384; do
  for i in 0 1 2 3 4 5 6 7 8 9; do
    claim ".pcrs.$bank.\"$i\"" "$(jq -r ".pcrs.\"$i\"" "$P/gce_cos85_nonce9009.quote_$bank.pcrs.json")"
  done
done
ok "eventlog Windows (legacy SHA-1)" eventlog --tcg "$P/goatt_windows.eventlog.bin"
for i in 0 4 5 7 11 12 13 14; do
  claim ".pcrs.sha1.\"$i\"" "$(jq -r ".pcrs.\"$i\"" "$P/goatt_windows.pcrs_sha1.json")"
done
Z48=$(printf '0%.0s' {1..96})
while read -r f r0 r1 r2 recs; do
  ok "eventlog CCEL $f" eventlog "$T/$f"
  claim .format ccel
  claim .records "$recs"
  claim '.rtmrs.sha384."0"' "$r0"
  claim '.rtmrs.sha384."1"' "$r1"
  claim '.rtmrs.sha384."2"' "$([ "$r2" == 0 ] && echo $Z48 || echo "$r2")"
  claim '.rtmrs.sha384."3"' $Z48
done <<EOF
trustee_ccel_ovmf.bin 8566f998798db09443b244c62de9a3041fb02e2e6936c4396d784bba2e90177329ec5aba3bb484404f2ab9cc90abe193 775b9f6bfe99f8a31396f0d0218e67ffa796d3b96ccf961cbb0deba48c79c00f082cda1a5567c1c16305f1fc210c13c6 94eaf7a7bf398ed8d888c91057ae0261802e4f3df084213a76ca7f0b5055ac9d2241de43cd58d9e8b49c503bbf25f34a 21
trustee_ccel_grub_gke.bin bc9945139042cf2cc75caf920aa57f14884ecfd7e893bccc51250c8ce90eb53ce72741e6adaa18183eb1331a87d4544a c17cb288a4dee302bb9ed8d27257a168f3264ad68cab53757f37eeaa7039657fa887cad65cf910e0fdc435ff110f8a7b 334aeba2c985f8886cea97d1ecffbd512769d528b9a94009583db667ad7d2faa7d37fa145d75b192ceee2d2f10b2eb6d 36
trustee_CCEL_data 2dc712306a963eadb894ad47dbaa17df44814151555aee11cbb843becca88950ffd079664902e6f22c66f7c8213543f4 0fa3be56af61208bbd179dc7b124988eb929319154663c539d6f46445ecac2fec287075047ff7bd1922829fec28cd3cf 0 6
EOF
ok "eventlog CCEL go-tdx-guest with its ACPI table" eventlog --ccel-table "$T/gotdx_ccel_table.dat" "$T/gotdx_ccel_data.dat"
claim .records 44
claim .used_bytes 18101
claim '.rtmrs.sha384."0"' 3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6
no "eventlog --ccel on a TCG SHA-1 log" "Spec ID" eventlog --ccel "$P/gotpm_eventlog_debian-10.bin"
head -c 5000 "$P/gce_cos85_nonce9009.eventlog.bin" >"$WORK/trunc.bin"
no "eventlog truncated at 5000 bytes" "record" eventlog --tcg "$WORK/trunc.bin"

echo "$CHECKS checks, $FAILS failed"
[ $FAILS -eq 0 ]
