#!/usr/bin/env bash
# Logs (docs/coordinator.md "Logs"): every activation, success or refusal,
# is logged once with marble type, UUID, peer address, evidence type, result
# and duration; every governance action with its user; --log-format json puts
# these in members of their own (parsed here with jq); --log-level filters.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../coordinator/lib.sh"
CODE= BODY=
LOG=$WORK/a/log

mkuser() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" \
    -out "$WORK/$1.crt" -subj "/CN=$1" -days 2 2>/dev/null
}
mkuser alice
mkuser mallory
cat >"$WORK/m.json" <<JSON
{
  "Packages": {"pkg": {"Debug": true, "UniqueID": "00"}},
  "Marbles": {"web": {"Package": "pkg", "MaxActivations": 1}, "free": {"Package": "pkg"}},
  "Secrets": {"note": {"Type": "plain", "UserDefined": true}},
  "Users": {"alice": {"Certificate": $(jq -Rs . <"$WORK/alice.crt"), "Roles": ["w"]}},
  "Roles": {"w": {"ResourceType": "Secrets", "ResourceNames": ["note"], "Actions": ["WriteSecret", "ReadSecret"]}}
}
JSON

start_coord a --log-format json
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" 200

U1=3f2504e0-4f89-41d3-9a0c-0305e82c3301
U2=3f2504e0-4f89-41d3-9a0c-0305e82c3302
activate web --uuid $U1;                 check "activation ok" eq "$CODE" 200
activate web --uuid $U2;                 check "second web: MaxActivations refusal" eq "$CODE" 403
activate nope --uuid $U1;                check "unknown type: refused" eq "$CODE" 403
activate free --uuid $U1 --flaw bad-uuid; check "bad UUID: 400" eq "$CODE" 400
activate free --uuid $U2 --flaw wrong-binding; check "wrong binding: 403" eq "$CODE" 403
activate $'ev"il\ntype' --uuid $U2;   check "hostile marble type: refused" eq "$CODE" 403

# secrets: alice sets one (ok), mallory is no user (refused), alice reads it
curl -sk --cert "$WORK/alice.crt" --key "$WORK/alice.key" -o /dev/null -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' "https://$CLIENT/api/v2/secrets" \
  -d "{\"secrets\":{\"note\":{\"Key\":\"$(printf hi | base64)\"}}}" >"$WORK/c1"
check "alice sets a secret" eq "$(cat "$WORK/c1")" 200
curl -sk --cert "$WORK/mallory.crt" --key "$WORK/mallory.key" -o /dev/null -w '%{http_code}' \
  "https://$CLIENT/api/v2/secrets?s=note" >"$WORK/c2"
check "mallory refused" eq "$(cat "$WORK/c2")" 401
curl -sk --cert "$WORK/alice.crt" --key "$WORK/alice.key" -o /dev/null "https://$CLIENT/api/v2/secrets?s=note"
stop_coord

check "every log line is a JSON object" eq "$(jq -R 'fromjson? | objects | 1' "$LOG" | wc -l)" "$(wc -l <"$LOG")"
acts() { jq -rc "select(.event == \"activation\") | $1" "$LOG"; }
check "one line per activation (6 attempts)" eq "$(acts . | wc -l)" 6
check "the success: type, UUID, evidence, result in fields" \
  eq "$(acts "select(.result == \"ok\") | [.marble_type, .uuid, .evidence, .msg] | join(\" \")")" \
  "web $U1 sim activation ok"
# activate_tool speaks JSON through libcurl, which negotiates HTTP/2 (h2) when offered
check "the wire is named" eq "$(acts '.wire' | sort -u | tr '\n' ' ')" "h2 "
check "every activation names the peer address" \
  eq "$(acts '.peer | test("^127\\.0\\.0\\.1:[0-9]+$")' | sort -u)" true
check "every activation has a duration in ms (a number)" \
  eq "$(acts '(.duration_ms | type) == "number" and .duration_ms >= 0' | sort -u)" true
check "refusals: result and reason fields" \
  eq "$(acts 'select(.result != "ok") | .result' | sort | tr '\n' ' ')" "bad_request forbidden forbidden forbidden forbidden "
check "the MaxActivations refusal names its reason" \
  eq "$(acts "select(.uuid == \"$U2\" and .marble_type == \"web\") | .reason | test(\"maximum number of activations\")")" true
check "the bad UUID refusal still names the marble type" \
  eq "$(acts 'select(.result == "bad_request") | .marble_type')" free
check "JSON: the hostile marble type round-trips" eq "$(acts 'select(.marble_type | test("\n")) | .marble_type | @json')" '"ev\"il\ntype"'
check "the reason is not only in msg" eq "$(acts 'select(.result == "forbidden") | .msg' | sort -u)" "activation refused"

gov() { jq -rc "select(.event == \"governance\") | $1" "$LOG"; }
check "secrets set: logged with the user" \
  eq "$(gov 'select(.action == "secrets.set") | [.user, .result] | join(" ")')" "alice ok"
check "secrets get by a non-user: refused, no user, reason" \
  eq "$(gov 'select(.action == "secrets.get" and .result != "ok") | [.user, .result, (.reason | test("unauthorized"))] | map(tostring) | join(" ")')" " refused true"
check "secrets get by alice" eq "$(gov 'select(.action == "secrets.get" and .result == "ok") | .user')" alice
check "manifest set: logged (no user: the manifest has none before)" \
  eq "$(gov 'select(.action == "manifest.set") | .result')" ok
check "governance lines carry the peer and status" \
  eq "$(gov '(.peer | test("^127\\.0\\.0\\.1:")) and (.status | type) == "number"' | sort -u)" true

# text format: the same fields, key=value after the message
start_coord t
set_manifest_file "$WORK/m.json"
activate nope --uuid $U1
# a marble type with a quote and a newline: still one line, the value quoted
activate $'ev"il\nforged line' --uuid $U2
stop_coord
check "text: a hostile marble type stays on its line, escaped" \
  grep -q 'marble_type="ev\\"il?forged line" uuid='"$U2" "$WORK/t/log"
check "text: no forged line" eq "$(grep -c '^forged line' "$WORK/t/log" || true)" 0
check "text: fields after the message" grep -q "activation refused event=activation marble_type=nope uuid=$U1 peer=127.0.0.1:[0-9]* evidence=sim wire=h2 result=forbidden duration_ms=[0-9.]* reason=\"marble verification failed: unknown marble type requested\"" "$WORK/t/log"

# --log-level: warn drops info lines, error drops warnings too
start_coord w --log-level warn
stop_coord
check "--log-level warn: no info line" eq "$(grep -c ' info ' "$WORK/w/log" || true)" 0
check "--log-level warn: warnings stay" grep -q "SIMULATION MODE" "$WORK/w/log"
start_coord e --log-level error --log-format json
stop_coord
check "--log-level error: nothing below error" eq "$(jq -r '.level' "$WORK/e/log" | grep -vc error || true)" 0
start_coord d --log-level debug --debug --log-level info
stop_coord
check "the later of --debug and --log-level wins" eq "$(grep -c ' debug ' "$WORK/d/log" || true)" 0
rc=0; "$BIN" --log-level loud >/dev/null 2>"$WORK/bad.err" || rc=$?
check "--log-level loud: configuration error (78)" eq "$rc" 78
check "... and says what is expected" grep -q "expected error, warn, info or debug" "$WORK/bad.err"
finish
