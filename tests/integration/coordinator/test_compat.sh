#!/usr/bin/env bash
# Every MarbleRun manifest in $CAIRN_SHARED_DIR/compat/marblerun/ gets the
# verdict its SOURCES.md states from POST /api/v2/manifest.
. "$(dirname "$0")/lib.sh"
DIR=${CAIRN_SHARED_DIR:-}/compat/marblerun
if [ -z "${CAIRN_SHARED_DIR:-}" ] || [ ! -f "$DIR/SOURCES.md" ]; then
  echo "SKIP: CAIRN_SHARED_DIR/compat/marblerun not available"
  exit 77
fi
n=0
while IFS='|' read -r _ file verdict _; do
  file=$(echo "$file" | xargs); verdict=$(echo "$verdict" | xargs)
  [[ "$file" == *.json ]] || continue
  [ -f "$DIR/$file" ] || { echo "FAIL - $file listed but missing"; FAILS=$((FAILS+1)); continue; }
  n=$((n+1))
  start_coord "c$n"
  set_manifest_file "$DIR/$file"
  req GET /api/v2/status
  S=$(jqv .data.code)
  set_manifest_file "$DIR/$file" >/dev/null  # second attempt only for the message below
  case "$verdict" in
    accepted)
      check "$file: accepted (state 3)" eq "$S" "3" ;;
    rejected)
      check "$file: rejected (state stays 2)" eq "$S" "2"
      check "$file: rejection is a 400 fail with a message" eq "$CODE $(jqv .status)" "400 fail"
      echo "     message: $(jqv .message)" ;;
    *) echo "FAIL - $file: unknown verdict $verdict"; FAILS=$((FAILS+1)) ;;
  esac
  stop_coord
done <"$DIR/SOURCES.md"
check "all listed manifests tried" test "$n" -ge 6
finish
