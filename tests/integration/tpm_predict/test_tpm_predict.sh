#!/usr/bin/env bash
# `cairn tpm predict` against systemd-measure (systemd 252, Debian 12), the
# implementation we did not write:
#   1. random inputs: random subsets of the section files (random contents,
#      sizes from 0 bytes to past the 16 KiB read buffer), random banks (any
#      letter case, repeats), random phase lists (empty words, repeated
#      colons, duplicates), --flag=V and --flag V spellings; stdout of
#      --json=short / --json=pretty / --json=off (and stderr for off) must be
#      byte for byte the same;
#   2. real UKIs: Debian's systemd-stub (systemd-boot-efi's linuxx64.efi.stub)
#      and a PE32+ EFI application linked with ld, sections added with
#      objcopy --add-section/--change-section-vma as ukify does; `--uki` must
#      give what systemd-measure gives for the same section files;
#   3. .uname (systemd 252's measure has no --uname): a Python reference of
#      the later stubs' order; the package output; refusals.
# Usage: test_tpm_predict.sh BIN_DIR. CAIRN_PREDICT_CASES (default 300) and
# CAIRN_PREDICT_SEED reproduce a run. Exit 77 (skip) when a tool is missing.
set -uo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR}" && pwd)
MEASURE=/usr/lib/systemd/systemd-measure
[ -x "$MEASURE" ] || { echo "SKIP: $MEASURE is not installed (Debian package systemd)"; exit 77; }
for t in ld objcopy cc python3 jq; do
  command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit 77; }
done
[ -x "$BIN/cairn" ] || { echo "SKIP: $BIN/cairn is not built"; exit 77; }

CASES=${CAIRN_PREDICT_CASES:-300}
SEED=${CAIRN_PREDICT_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
echo "seed $SEED (CAIRN_PREDICT_SEED=$SEED reproduces the choices), $CASES cases"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-predict.XXXXXX")
FAILS=0
CHECKS=0
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
ok() { CHECKS=$((CHECKS + 1)); echo "ok   $*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
T0=$(date +%s%N)

SECTIONS=(linux osrel cmdline initrd splash dtb pcrpkey)
WORDS=(enter-initrd leave-initrd sysinit ready shutdown final x "" 'q"uote' 'back\slash' 'sp ace')

randsize() {   # mostly small, sometimes past the 16 KiB buffer, sometimes empty
  case $((RANDOM % 8)) in
    0) echo 0 ;;
    1) echo $((16384 + RANDOM % 3)) ;;
    2) echo $((RANDOM * 4 + RANDOM % 4)) ;;
    *) echo $((RANDOM % 3000 + 1)) ;;
  esac
}
randphase() {
  local n=$((RANDOM % 5)) p="" i
  for ((i = 0; i < n; i++)); do
    p+="${WORDS[RANDOM % ${#WORDS[@]}]}"
    [ $((RANDOM % 4)) = 0 ] && p+="::" || p+=":"
  done
  [ $((RANDOM % 2)) = 0 ] && p=${p%:}
  printf '%s' "$p"
}
randbank() {
  local b=("sha1" "SHA256" "sha256" "Sha384" "sha512" "SHA1" "sHa512")
  printf '%s' "${b[RANDOM % ${#b[@]}]}"
}
flag() {   # flag NAME VALUE -> one or two words in ARGS
  if [ $((RANDOM % 2)) = 0 ]; then ARGS+=("--$1=$2"); else ARGS+=("--$1" "$2"); fi
}

# ---- 1. random inputs ------------------------------------------------------
same=0
for ((c = 0; c < CASES; c++)); do
  d="$WORK/c"
  rm -rf "$d" && mkdir -p "$d"
  ARGS=()
  for s in "${SECTIONS[@]}"; do
    if [ "$s" = linux ] || [ $((RANDOM % 2)) = 0 ]; then
      head -c "$(randsize)" /dev/urandom >"$d/$s"
      flag "$s" "$d/$s"
    fi
  done
  for ((k = RANDOM % 4; k > 0; k--)); do flag bank "$(randbank)"; done
  for ((k = RANDOM % 4; k > 0; k--)); do flag phase "$(randphase)"; done
  case $((RANDOM % 6)) in 0) mode=pretty ;; 1) mode=off ;; *) mode=short ;; esac
  # shuffle the order of the flags' words only between separate flags is not
  # needed: both tools take flags in any order; give them the same list
  "$BIN/cairn" tpm predict "${ARGS[@]}" --json="$mode" >"$d/ours" 2>"$d/ours.err"
  rc1=$?
  "$MEASURE" calculate "${ARGS[@]}" --json="$mode" >"$d/theirs" 2>"$d/theirs.err"
  rc2=$?
  if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then
    bad "case $c: exit $rc1 (cairn) / $rc2 (systemd-measure): $(head -c 300 "$d/ours.err") | $(head -c 300 "$d/theirs.err") | ${ARGS[*]}"
    continue
  fi
  if ! cmp -s "$d/ours" "$d/theirs"; then
    bad "case $c (--json=$mode): outputs differ: ${ARGS[*]}"
    diff "$d/ours" "$d/theirs" | head -n 6
    continue
  fi
  if [ "$mode" = off ] && ! cmp -s "$d/ours.err" "$d/theirs.err"; then
    bad "case $c (--json=off): stderr differs: $(head -c 200 "$d/ours.err") vs $(head -c 200 "$d/theirs.err")"
    continue
  fi
  [ -s "$d/ours" ] || { bad "case $c: empty output"; continue; }
  same=$((same + 1))
done
[ $same = "$CASES" ] && ok "random inputs: $same/$CASES byte-identical to systemd-measure calculate" ||
  bad "random inputs: only $same/$CASES identical"

# ---- 2. real UKIs (ld + objcopy, as ukify adds sections) -----------------------
printf 'void efi_main(void) {}\n' >"$WORK/stub.c"
if cc -c -fPIC -o "$WORK/stub.o" "$WORK/stub.c" 2>"$WORK/ld.log" &&
  ld -m i386pep --subsystem 10 -e efi_main -o "$WORK/stub.efi" "$WORK/stub.o" 2>>"$WORK/ld.log"; then
  UKIS=${CAIRN_PREDICT_UKIS:-40}
  REALSTUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
  REAL=0
  [ -f "$REALSTUB" ] || echo "note: $REALSTUB is not installed (Debian package systemd-boot-efi): ld-linked stub only"
  same=0
  for ((u = 0; u < UKIS; u++)); do
    d="$WORK/u"
    rm -rf "$d" && mkdir -p "$d"
    OBJ=()
    MARGS=()
    # even UKIs on the real systemd-stub (image base 0), odd ones on the ld stub
    base="$WORK/stub.efi"
    vma=$((0x140100000))
    if [ $((u % 2)) = 0 ] && [ -f "$REALSTUB" ]; then base=$REALSTUB; vma=$((0x100000)); REAL=$((REAL + 1)); fi
    # the files in a random order in the PE: the stub measures in its own order
    order=("${SECTIONS[@]}")
    for ((k = ${#order[@]} - 1; k > 0; k--)); do
      j=$((RANDOM % (k + 1))); tmp=${order[k]}; order[k]=${order[j]}; order[j]=$tmp
    done
    for s in "${order[@]}"; do
      if [ "$s" = linux ] || [ $((RANDOM % 2)) = 0 ]; then
        sz=$(randsize)
        [ "$s" = linux ] && [ "$sz" = 0 ] && sz=1
        [ "$sz" = 0 ] && continue   # objcopy does not add an empty section
        head -c "$sz" /dev/urandom >"$d/$s"
        OBJ+=(--add-section ".$s=$d/$s" --change-section-vma ".$s=$(printf '0x%x' $vma)")
        MARGS+=("--$s=$d/$s")
        vma=$((vma + ((sz + 0xfff) / 0x1000 + 1) * 0x1000))
      fi
    done
    if ! objcopy "${OBJ[@]}" "$base" "$d/uki.efi" 2>"$d/objcopy.log"; then
      bad "UKI $u: objcopy: $(head -c 200 "$d/objcopy.log")"
      continue
    fi
    BK=()
    for ((k = RANDOM % 3; k > 0; k--)); do BK+=("--bank=$(randbank)"); done
    PH=()
    for ((k = RANDOM % 3; k > 0; k--)); do PH+=("--phase=$(randphase)"); done
    "$BIN/cairn" tpm predict --uki "$d/uki.efi" "${BK[@]}" "${PH[@]}" --json >"$d/ours" 2>"$d/ours.err"
    rc1=$?
    "$MEASURE" calculate "${MARGS[@]}" "${BK[@]}" "${PH[@]}" --json=short >"$d/theirs" 2>"$d/theirs.err"
    rc2=$?
    if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ] || ! cmp -s "$d/ours" "$d/theirs"; then
      bad "UKI $u: cairn rc $rc1, systemd-measure rc $rc2: $(head -c 200 "$d/ours.err") sections ${MARGS[*]}"
      continue
    fi
    same=$((same + 1))
  done
  [ $same = "$UKIS" ] && ok "UKIs built with objcopy --add-section ($REAL on Debian's systemd-stub): $same/$UKIS, --uki equals systemd-measure on the same sections" ||
    bad "UKIs: only $same/$UKIS identical"
  cp "$d/uki.efi" "$WORK/last-uki.efi"
else
  bad "cannot link a PE32+ EFI stub with ld -m i386pep: $(head -c 300 "$WORK/ld.log")"
fi

# ---- 3. .uname (a Python reference of the order of stubs newer than 252), package, refusals ----
head -c 700 /dev/urandom >"$WORK/k"
printf '6.1.0-13-amd64' >"$WORK/uname"
printf 'ID=debian\n' >"$WORK/osrel"
REF=$(python3 - "$WORK/k" "$WORK/osrel" "$WORK/uname" <<'PY'
import hashlib, sys
secs = [(".linux", sys.argv[1]), (".osrel", sys.argv[2]), (".uname", sys.argv[3])]
pcr = bytes(32)
ext = lambda p, d: hashlib.sha256(p + d).digest()
for name, path in secs:
    pcr = ext(pcr, hashlib.sha256(name.encode() + b"\0").digest())
    pcr = ext(pcr, hashlib.sha256(open(path, "rb").read()).digest())
for w in "enter-initrd:leave-initrd:sysinit:ready".split(":"):
    pcr = ext(pcr, hashlib.sha256(w.encode()).digest())
print(pcr.hex())
PY
)
GOT=$("$BIN/cairn" tpm predict --uname "$WORK/uname" --linux="$WORK/k" --osrel "$WORK/osrel" --bank sha256 2>/dev/null |
  jq -r '.PCRs.sha256["11"]')
[ -n "$REF" ] && [ "$GOT" = "$REF" ] && ok ".uname measured after .osrel/.dtb, before .pcrpkey (reference $REF)" ||
  bad ".uname: got $GOT, reference $REF"

if [ -f "$WORK/last-uki.efi" ]; then
  PKG=$("$BIN/cairn" tpm predict --uki "$WORK/last-uki.efi" --bank sha1 --bank sha256 --bank sha384 --bank sha512 2>/dev/null)
  PKG1=$("$BIN/cairn" tpm predict --uki "$WORK/last-uki.efi" 2>/dev/null)
  READY=$("$BIN/cairn" tpm predict --uki "$WORK/last-uki.efi" --json | jq -r '.sha384[3].hash')
  [ "$(jq -r .TEE <<<"$PKG")" = tpm ] && [ "$(jq -r '.PCRs.sha384["11"]' <<<"$PKG")" = "$READY" ] &&
    [ "$(jq -r '.PCRs | keys | join(",")' <<<"$PKG")" = "sha1,sha256,sha384,sha512" ] &&
    [ "$(jq -r '.PCRs | keys | join(",")' <<<"$PKG1")" = "sha256" ] &&
    ok "package output: PCR 11 of the banks asked for (default sha256) at enter-initrd:leave-initrd:sysinit:ready" ||
    bad "package output: $PKG / $PKG1 (ready sha384 $READY)"
fi

refuse() {   # refuse PATTERN DESCRIPTION -- args
  local pat=$1 desc=$2 out rc=0
  shift 3
  out=$("$BIN/cairn" tpm predict "$@" 2>&1) || rc=$?
  if [ $rc -ne 0 ] && grep -q -- "$pat" <<<"$out"; then ok "refused: $desc ($(head -c 150 <<<"$out"))"; else
    bad "$desc: rc $rc, $out"; fi
}
{ printf 'not a PE file'; head -c 200 /dev/zero; } >"$WORK/junk"
refuse "must be given" "no --linux" -- --osrel "$WORK/osrel"
refuse "no \"MZ\" DOS header" "--uki of a non-PE file" -- --uki "$WORK/junk"
refuse "exclude each other" "--uki with --linux" -- --uki "$WORK/junk" --linux "$WORK/k"
refuse "unknown bank \"md5\"" "--bank md5" -- --linux "$WORK/k" --bank md5
refuse "one --phase" "package with two phases" -- --linux "$WORK/k" --phase a --phase b
refuse "cannot open .linux file" "missing file" -- --linux "$WORK/missing"
if [ -f "$WORK/last-uki.efi" ]; then
  head -c 300 "$WORK/last-uki.efi" >"$WORK/trunc.efi"
  refuse "truncated" "truncated UKI" -- --uki "$WORK/trunc.efi"
fi

echo "$CHECKS checks, $FAILS failed, $(( ($(date +%s%N) - T0) / 1000000 )) ms"
[ $FAILS -eq 0 ]
