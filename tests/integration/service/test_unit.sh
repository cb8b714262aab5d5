#!/usr/bin/env bash
# The systemd unit (deploy/systemd/cairn-coordinator.service, docs/systemd.md):
# `systemd-analyze verify` prints nothing, `systemd-analyze security
# --offline=true` (systemd >= 250; no running systemd needed) rates it at an
# exposure of at most 3.0, and the settings the Coordinator relies on are there.
set -euo pipefail
SRC=${CAIRN_SOURCE_DIR:?CAIRN_SOURCE_DIR not set}
BIN=${CAIRN_BIN_DIR:?CAIRN_BIN_DIR not set}/cairn-coordinator
UNIT=$SRC/deploy/systemd/cairn-coordinator.service
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed"; exit 77; }
WORK=$(mktemp -d /tmp/cairn-unit.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FAILS=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }

# verify checks that ExecStart= names an executable: the copy runs the built
# binary instead of /usr/bin/cairn-coordinator, and differs in nothing else
mkdir -p "$WORK/v"
sed "s|^ExecStart=/usr/bin/cairn-coordinator$|ExecStart=$BIN|" "$UNIT" >"$WORK/v/cairn-coordinator.service"
d=$(diff "$UNIT" "$WORK/v/cairn-coordinator.service" | grep -c '^[<>]' || true)
[ "$d" = 2 ] && ok "the verified copy differs only in ExecStart=" || bad "the copy differs in $d lines"
rc=0
out=$(cd "$WORK/v" && systemd-analyze verify --man=no ./cairn-coordinator.service 2>&1) || rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && ok "systemd-analyze verify: clean" || bad "systemd-analyze verify rc=$rc: $out"

rc=0
out=$(systemd-analyze security --offline=true --threshold=30 "$UNIT" 2>&1) || rc=$?
exposure=$(sed -n 's/.*Overall exposure level for cairn-coordinator.service: \([0-9.]*\).*/\1/p' <<<"$out")
if [ -n "$exposure" ] && [ $rc -eq 0 ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }'; then
  ok "systemd-analyze security: exposure $exposure (<= 3.0)"
else
  bad "systemd-analyze security rc=$rc exposure=${exposure:-?}: $(grep '✗' <<<"$out" | head -20)"
fi

# what the Coordinator relies on
has() { grep -qx -- "$1" "$UNIT" && ok "unit: $1" || bad "unit lacks $1"; }
has "Type=notify"
has "NotifyAccess=main"
has "RestartPreventExitStatus=78"
has "SupplementaryGroups=tss"
has "DeviceAllow=/dev/tpmrm0 rw"
has "ReadWritePaths=-/sys/kernel/config/tsm/report"
grep -q '^WatchdogSec=[1-9]' "$UNIT" && ok "unit: WatchdogSec set" || bad "unit: no WatchdogSec"
# the exit status the unit does not restart on is the Coordinator's configuration error
rc=0
"$BIN" --log-level nonsense >/dev/null 2>&1 || rc=$?
[ $rc -eq 78 ] && ok "a configuration error exits 78" || bad "a configuration error exits $rc"
for u in $(sed -n 's|^Documentation=||p' "$UNIT"); do
  f=${u#file:///usr/share/doc/cairn/}
  [ "$f" != "$u" ] && [ -f "$SRC/docs/$f" ] && ok "Documentation= $u is docs/$f (installed there)" \
    || bad "Documentation= $u is not one of docs/*.md"
done

if [ "$FAILS" -gt 0 ]; then echo "$FAILS check(s) failed"; exit 1; fi
echo "all checks passed"
