#!/usr/bin/env bash
# cairn-premain against real Coordinators: files/env/argv arrive exactly as
# the manifest says; refusals never exec; the Coordinator is authenticated
# with its root certificate (an impostor is refused); retries while the
# Coordinator is not ready; bounded retries when it is unreachable.
BIN_DIR=$1
DUMP=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
source "$(dirname "$0")/../cli/harness.sh" "$BIN_DIR"

start_coordinator A
start_coordinator B   # plays the impostor: a real Coordinator with another root

F="$WORK/files"
cat >"$WORK/manifest.json" <<JSON
{
  "Packages": {"p": {"Debug": true, "UniqueID": "0000000000000000000000000000000000000000000000000000000000000000"}},
  "Marbles": {
    "dump": {"Package": "p", "Parameters": {
      "Files": {
        "$F/a/b/secret.txt": "first line\nkey={{ hex .Secrets.k }}\n",
        "$F/raw.bin": {"Data": "AAEC/w==", "Encoding": "base64"},
        "rel/plain.txt": {"Data": "{{ not a template }}", "NoTemplates": true}
      },
      "Env": {"GREETING": "hello world", "KEY_HEX": "{{ hex .Secrets.k }}", "MULTI": "a\nb \$x"},
      "Argv": ["dump-marble", "arg one", "--flag=x", ""]}},
    "noargv": {"Package": "p"},
    "ttls": {"Package": "p", "TLS": ["web"]},
    "limited": {"Package": "p", "MaxActivations": 1},
    "once": {"Package": "p", "MaxActivations": 1, "Parameters": {"Files": {"$F/once/secret": "{{ hex .Secrets.k }}"}}},
    "once2": {"Package": "p", "MaxActivations": 1},
    "badargv": {"Package": "p", "Parameters": {"Files": {"$F/badargv/secret": "{{ hex .Secrets.k }}"},
                "Argv": ["/nonexistent/prog", "x"]}},
    "emptyargv": {"Package": "p", "Parameters": {"Files": {"$F/emptyargv/secret": "{{ hex .Secrets.k }}"}}}
  },
  "Secrets": {"k": {"Type": "symmetric-key", "Size": 128, "Shared": true}},
  "TLS": {"web": {"Outgoing": [{"Port": "443", "Addr": "example.com"}]}}
}
JSON
cli manifest set "$WORK/manifest.json" "$A_CLIENT" -i >/dev/null 2>&1 || { bad "manifest set on A"; exit 1; }
cli --coordinator-cert "$WORK/b.pem" manifest set "$WORK/manifest.json" "$B_CLIENT" -i >/dev/null 2>&1 || { bad "manifest set on B"; exit 1; }
cli certificate root "$A_CLIENT" -i -o "$WORK/rootA.pem" 2>/dev/null
cli --coordinator-cert "$WORK/b.pem" certificate root "$B_CLIENT" -i -o "$WORK/rootB.pem" 2>/dev/null

# premain TYPE DIR [ENV...] [-- PROGRAM...]: runs cairn-premain in DIR.
premain() {
  local type=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  (cd "$dir" && env EDG_MARBLE_TYPE="$type" EDG_MARBLE_COORDINATOR_ADDR="$A_MESH" CAIRN_EVIDENCE=sim \
    DUMP_OUT="$dir/dump.txt" DUMP_ENV=GREETING,KEY_HEX,MULTI,MARBLE_PREDEFINED_COORDINATOR_ROOT_CA,EDG_MARBLE_TYPE \
    CAIRN_PREMAIN_RETRY_DELAY_MS=50 "$@")
}
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }
one_error_line() { [ "$(grep -c ' error ' "$1")" = 1 ]; }

# --- files, env and argv exactly as the manifest says ------------------------
D="$WORK/m1"
if premain dump "$D" CAIRN_COORDINATOR_ROOT_CA="$WORK/rootA.pem" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/m1.log"; then
  ok "activation + exec"
else
  bad "activation + exec: $(tail -n2 "$WORK/m1.log")"
fi
expected_argv=$(printf 'argc=4\nargv[0]=dump-marble\nargv[1]=arg one\nargv[2]=--flag=x\nargv[3]=\n')
[ "$(head -n 5 "$D/dump.txt")" = "$expected_argv" ] && ok "argv exactly as in the manifest" || bad "argv: $(head -n5 "$D/dump.txt")"
key=$(sed -n 's/^key=//p' "$F/a/b/secret.txt")
[[ $key =~ ^[0-9a-f]{32}$ ]] && ok "template rendered a 128-bit key" || bad "secret file: $(cat "$F/a/b/secret.txt")"
[ "$(cat "$F/a/b/secret.txt")" = "$(printf 'first line\nkey=%s' "$key")" ] && ok "file content exact" || bad "file content"
[ "$(od -An -tx1 "$F/raw.bin" | tr -d ' \n')" = "000102ff" ] && ok "base64 file decoded to its bytes" || bad "raw.bin"
[ "$(cat "$D/rel/plain.txt")" = "{{ not a template }}" ] && ok "relative path, NoTemplates" || bad "plain.txt"
[ "$(stat -c %a "$F/a/b/secret.txt") $(stat -c %a "$F/raw.bin") $(stat -c %a "$D/rel/plain.txt")" = "600 600 600" ] \
  && ok "files are 0600" || bad "file modes"
[ "$(stat -c %a "$F/a") $(stat -c %a "$F/a/b") $(stat -c %a "$D/rel")" = "700 700 700" ] && ok "parent dirs are 0700" \
  || bad "dir modes $(stat -c %a "$F/a") $(stat -c %a "$F/a/b")"
grep -qx "env GREETING=$(hex 'hello world')" "$D/dump.txt" && ok "env GREETING" || bad "env GREETING"
grep -qx "env MULTI=$(hex $'a\nb $x')" "$D/dump.txt" && ok "env with newline and \$ verbatim" || bad "env MULTI"
grep -qx "env KEY_HEX=$(hex "$key")" "$D/dump.txt" && ok "env secret equals the file's secret" || bad "env KEY_HEX"
grep -qx "env MARBLE_PREDEFINED_COORDINATOR_ROOT_CA=$(hex "$(cat "$WORK/rootA.pem")")" "$D/dump.txt" || \
  grep -qx "env MARBLE_PREDEFINED_COORDINATOR_ROOT_CA=$(hex "$(cat "$WORK/rootA.pem")")0a" "$D/dump.txt" \
  && ok "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA is the root" || bad "predefined root"
uuid=$(cat "$D/uuid")
[[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] && [ "$(stat -c %a "$D/uuid")" = 600 ] \
  && ok "UUIDv4 file created with 0600" || bad "uuid file: $uuid"
rm -f "$D/dump.txt"
premain dump "$D" "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null && [ "$(cat "$D/uuid")" = "$uuid" ] && [ -f "$D/dump.txt" ] \
  && ok "UUID file reused on restart" || bad "uuid reuse"

# Empty manifest Argv: the program after -- runs with its own arguments.
D="$WORK/m2"
premain noargv "$D" "$BIN/cairn-premain" -- "$DUMP" x "y z" 2>/dev/null && \
  [ "$(head -n 4 "$D/dump.txt")" = "$(printf 'argc=3\nargv[0]=%s\nargv[1]=x\nargv[2]=y z' "$DUMP")" ] \
  && ok "no manifest Argv: argv after -- kept" || bad "noargv: $(cat "$D/dump.txt" 2>/dev/null)"
# Gramine libos.entrypoint convention: argv[0] is the application itself.
D="$WORK/m3"
mkdir -p "$D"
ln -sf "$BIN/cairn-premain" "$D/app-entry"
premain noargv "$D" bash -c "exec -a '$DUMP' '$D/app-entry' one" 2>/dev/null && \
  [ "$(head -n 3 "$D/dump.txt")" = "$(printf 'argc=2\nargv[0]=%s\nargv[1]=one' "$DUMP")" ] \
  && ok "entrypoint mode: execs argv[0]" || bad "entrypoint mode: $(cat "$D/dump.txt" 2>/dev/null)"

# --- refusals never exec ------------------------------------------------------
D="$WORK/unknown"
rc=0
premain nope "$D" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/unknown.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$D/dump.txt" ] && ok "unknown marble type: exit $rc, not executed" || bad "unknown type rc=$rc"
grep -q "unknown marble type" "$WORK/unknown.log" && one_error_line "$WORK/unknown.log" \
  && ok "one line: $(grep ' error ' "$WORK/unknown.log" | cut -c1-160)" || bad "unknown type message: $(cat "$WORK/unknown.log")"
premain limited "$WORK/l1" "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null && [ -f "$WORK/l1/dump.txt" ] \
  && ok "MaxActivations 1: first activation" || bad "limited first"
rc=0
premain limited "$WORK/l2" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/l2.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/l2/dump.txt" ] && grep -qE "403|gRPC PermissionDenied" "$WORK/l2.log" \
  && ok "MaxActivations reached: refused (403), not executed" || bad "limited second rc=$rc $(cat "$WORK/l2.log")"
# --- the program is checked before activating (no MaxActivations slot, no secrets on disk)
printf 'not a program\n' >"$WORK/plain.txt"; chmod 644 "$WORK/plain.txt"
for c in "/nonexistent/prog:127:does not exist" "$WORK/plain.txt:126:not an executable file" \
         "no-such-cmd-x7:127:not found in PATH"; do
  prog=${c%%:*}; rest=${c#*:}; want=${rest%%:*}; msg=${rest#*:}
  rc=0
  premain once "$WORK/once-bad" "$BIN/cairn-premain" -- "$prog" 2>"$WORK/once-bad.log" || rc=$?
  [ $rc = "$want" ] && grep -q "$msg" "$WORK/once-bad.log" && one_error_line "$WORK/once-bad.log" \
    && ! grep -q "activat" "$WORK/once-bad.log" && [ ! -e "$WORK/once-bad/uuid" ] && [ ! -e "$F/once/secret" ] \
    && ok "program $prog: exit $rc before activating ($msg), no UUID file, no secret" \
    || bad "program $prog: rc=$rc $(cat "$WORK/once-bad.log")"
done
premain once "$WORK/once-ok" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/once-ok.log" && [ -f "$WORK/once-ok/dump.txt" ] \
  && [ -s "$F/once/secret" ] && ok "MaxActivations 1: the slot is still free after three bad programs" \
  || bad "once after bad programs: $(cat "$WORK/once-ok.log")"
rc=0
premain once "$WORK/once-3" "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null || rc=$?
[ $rc = 1 ] && ok "... and it is a real limit (the next activation is refused)" || bad "once third rc=$rc"
# entrypoint mode: argv[0] is the program, checked the same way
mkdir -p "$WORK/once2"; ln -sf "$BIN/cairn-premain" "$WORK/once2/app-entry"
rc=0
premain once2 "$WORK/once2" bash -c "exec -a /nonexistent/app '$WORK/once2/app-entry'" 2>"$WORK/once2.log" || rc=$?
[ $rc = 127 ] && grep -q 'libos.entrypoint application' "$WORK/once2.log" && ok "entrypoint mode: a missing argv[0] is refused before activating" \
  || bad "once2 bad rc=$rc $(cat "$WORK/once2.log")"
premain once2 "$WORK/once2" bash -c "exec -a '$DUMP' '$WORK/once2/app-entry'" 2>/dev/null && [ -f "$WORK/once2/dump.txt" ] \
  && ok "entrypoint mode: the slot is still free" || bad "once2 good"
# the manifest's Argv is known only after activating: checked before any file is written
rc=0
premain badargv "$WORK/badargv" "$BIN/cairn-premain" 2>"$WORK/badargv.log" || rc=$?
[ $rc = 127 ] && [ ! -e "$F/badargv/secret" ] && grep -q 'Argv\[0\] in the manifest' "$WORK/badargv.log" \
  && grep -q 'give the program after `--`' "$WORK/badargv.log" && ok "manifest Argv[0] missing: exit 127, no secret written, says how to avoid it" \
  || bad "badargv rc=$rc $(ls "$F/badargv" 2>&1) $(cat "$WORK/badargv.log")"
rc=0
premain emptyargv "$WORK/emptyargv" "$BIN/cairn-premain" 2>"$WORK/emptyargv.log" || rc=$?
[ $rc = 2 ] && [ ! -e "$F/emptyargv/secret" ] && grep -q "nothing to execute" "$WORK/emptyargv.log" \
  && ok "empty Argv and no program: exit 2, no secret written" || bad "emptyargv rc=$rc $(ls "$F/emptyargv" 2>&1)"

# the wrong port: premain pointed at the client API is told so, for both wire protocols
for proto in json grpc; do
  rc=0
  premain dump "$WORK/wrongport-$proto" EDG_MARBLE_COORDINATOR_ADDR="$A_CLIENT" CAIRN_PREMAIN_RETRIES=1 \
    "$BIN/cairn-premain" --protocol $proto -- "$DUMP" 2>"$WORK/wrongport.log" || rc=$?
  [ $rc = 1 ] && [ ! -e "$WORK/wrongport-$proto/dump.txt" ] && one_error_line "$WORK/wrongport.log" \
    && grep -Eq "this is the Coordinator's client API; marbles activate on its mesh API|not the Coordinator's mesh API" "$WORK/wrongport.log" \
    && ok "premain ($proto) at the client API: named ($(grep -oE "this is the Coordinator's client API|not the Coordinator's mesh API" "$WORK/wrongport.log"))" \
    || bad "premain ($proto) at the client API: rc=$rc $(cat "$WORK/wrongport.log")"
done
rc=0
(cd "$WORK" && env -u EDG_MARBLE_TYPE DUMP_OUT="$WORK/nt.txt" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/nt.log") || rc=$?
[ $rc = 2 ] && [ ! -e "$WORK/nt.txt" ] && grep -q "EDG_MARBLE_TYPE is not set" "$WORK/nt.log" \
  && ok "missing EDG_MARBLE_TYPE: exit 2" || bad "missing type rc=$rc"
mkdir -p "$WORK/badu" && echo "not-a-uuid" >"$WORK/badu/uuid"
rc=0
premain dump "$WORK/badu" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/badu.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/badu/dump.txt" ] && grep -q "canonical UUID" "$WORK/badu.log" \
  && ok "corrupt UUID file refused" || bad "bad uuid rc=$rc"

rc=0
premain ttls "$WORK/ttls" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/ttls.log" || rc=$?
[ $rc = 1 ] && [ ! -e "$WORK/ttls/dump.txt" ] && grep -q "TLS tags.*MARBLE_TTLS_CONFIG" "$WORK/ttls.log" \
  && ok "TLS tags (TTLS) refused like MarbleRun's libOS premain, not executed" || bad "ttls rc=$rc $(cat "$WORK/ttls.log")"

# --- options, log format, UUID location ------------------------------------------
"$BIN/cairn-premain" --help | grep -q "EDG_MARBLE_TYPE" && ok "--help documents the variables" || bad "--help"
"$BIN/cairn-premain" --version | grep -q "^cairn-premain [0-9]" && ok "--version" || bad "--version"
rc=0
"$BIN/cairn-premain" --bogus 2>/dev/null || rc=$?
[ $rc = 2 ] && ok "unknown option: exit 2" || bad "unknown option rc=$rc"
rc=0
(cd "$WORK" && EDG_MARBLE_TYPE=dump "$BIN/cairn-premain" stray 2>"$WORK/stray.log") || rc=$?
[ $rc = 2 ] && grep -q "put the program after" "$WORK/stray.log" && ok "argument without --: exit 2" || bad "stray rc=$rc"
rc=0
premain nope "$WORK/json" EDG_LOG_FORMAT=json "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/json.log" || rc=$?
if command -v jq >/dev/null; then
  [ $rc = 1 ] && jq -e . "$WORK/json.log" >/dev/null 2>&1 && [ "$(jq -r 'select(.level=="error") | .msg' "$WORK/json.log" 2>/dev/null | grep -c 'unknown marble type')" = 1 ] \
    && ok "EDG_LOG_FORMAT=json: JSON lines, one error" || bad "json log: $(cat "$WORK/json.log")"
fi
mkdir -p "$WORK/cwd"
premain dump "$WORK/elsewhere" EDG_CWD="$WORK/cwd" "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null && [ -s "$WORK/cwd/uuid" ] \
  && [ ! -e "$WORK/elsewhere/uuid" ] && ok "UUID file defaults to \$EDG_CWD/uuid" || bad "EDG_CWD uuid"

# --- Coordinator authentication -----------------------------------------------
rc=0
premain dump "$WORK/imp1" EDG_MARBLE_COORDINATOR_ADDR="$B_MESH" CAIRN_COORDINATOR_ROOT_CA="$WORK/rootA.pem" \
  "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/imp1.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/imp1/dump.txt" ] && grep -q "impostor" "$WORK/imp1.log" && one_error_line "$WORK/imp1.log" \
  && ok "impostor refused (root CA only): $(grep ' error ' "$WORK/imp1.log" | cut -c1-150)" || bad "impostor 1 rc=$rc $(cat "$WORK/imp1.log")"
rc=0
premain dump "$WORK/imp2" EDG_MARBLE_COORDINATOR_ADDR="$B_MESH" CAIRN_COORDINATOR_ROOT_CA="$(cat "$WORK/rootA.pem")" \
  CAIRN_COORDINATOR_CLIENT_ADDR="$A_CLIENT" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/imp2.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/imp2/dump.txt" ] && grep -q "impostor" "$WORK/imp2.log" \
  && ok "impostor refused (root CA as PEM text + intermediate from the client API)" || bad "impostor 2 rc=$rc $(cat "$WORK/imp2.log")"
rc=0
premain dump "$WORK/imp3" EDG_MARBLE_COORDINATOR_ADDR="$B_MESH" CAIRN_COORDINATOR_ROOT_CA="$WORK/rootA.pem" \
  CAIRN_COORDINATOR_CLIENT_ADDR="$B_CLIENT" "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/imp3.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/imp3/dump.txt" ] && ok "impostor refused (its client API fails TLS against the root)" \
  || bad "impostor 3 rc=$rc"
premain dump "$WORK/auth" CAIRN_COORDINATOR_ROOT_CA="$WORK/rootA.pem" CAIRN_COORDINATOR_CLIENT_ADDR="$A_CLIENT" \
  "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null && [ -f "$WORK/auth/dump.txt" ] \
  && ok "the right Coordinator is accepted (root CA + client API)" || bad "auth with client addr"
# A Coordinator policy: the quote is verified first; a simulated Coordinator has none.
printf '{"UniqueID":"%064d","Debug":false}' 0 >"$WORK/policy.json"
rc=0
t0=$(date +%s)
premain dump "$WORK/pol1" CAIRN_COORDINATOR_POLICY="$WORK/policy.json" CAIRN_COORDINATOR_CLIENT_ADDR="$A_CLIENT" \
  "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/pol1.log" || rc=$?
t1=$(date +%s)
[ $rc -ne 0 ] && [ ! -e "$WORK/pol1/dump.txt" ] && grep -q "Coordinator verification failed: .*no quote" "$WORK/pol1.log" \
  && ! grep -q retry "$WORK/pol1.log" && [ $((t1 - t0)) -lt 10 ] \
  && ok "policy vs a simulated Coordinator: refused at once (no retries), not executed" || bad "policy rc=$rc $(cat "$WORK/pol1.log")"
rc=0
premain dump "$WORK/pol2" CAIRN_COORDINATOR_POLICY="$(cat "$WORK/policy.json")" CAIRN_PREMAIN_RETRIES=1 \
  EDG_MARBLE_COORDINATOR_ADDR=127.0.0.1:1 "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/pol2.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/pol2/dump.txt" ] && grep -q "quote from 127.0.0.1:4433" "$WORK/pol2.log" \
  && ok "policy as JSON text; client API defaults to the mesh host, port 4433" || bad "policy default addr rc=$rc $(cat "$WORK/pol2.log")"
echo '{"SignerID":' >"$WORK/badpol.json"
rc=0
premain dump "$WORK/pol3" CAIRN_COORDINATOR_POLICY="$WORK/badpol.json" CAIRN_COORDINATOR_CLIENT_ADDR="$A_CLIENT" \
  "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/pol3.log" || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/pol3/dump.txt" ] && grep -q "coordinator policy: invalid JSON" "$WORK/pol3.log" \
  && ok "invalid policy: refused" || bad "bad policy rc=$rc $(cat "$WORK/pol3.log")"
rc=0
premain dump "$WORK/badroot" CAIRN_COORDINATOR_ROOT_CA="$WORK/missing.pem" "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null || rc=$?
[ $rc -ne 0 ] && [ ! -e "$WORK/badroot/dump.txt" ] && ok "unreadable root CA file: refused" || bad "bad root file"

# --- a marble posing as the Coordinator ------------------------------------------
# A genuine marble's credentials (its certificate chains to the root through
# the intermediate) served by nginx with a forged activation answer.
D="$WORK/creds"
premain dump "$D" DUMP_ENV=MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN,MARBLE_PREDEFINED_PRIVATE_KEY \
  "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null
unhex() { tr -d '\n' | perl -e 'local $/; print pack("H*", <STDIN>)'; }
sed -n 's/^env MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN=//p' "$D/dump.txt" | unhex >"$WORK/evil-chain.pem"
sed -n 's/^env MARBLE_PREDEFINED_PRIVATE_KEY=//p' "$D/dump.txt" | unhex >"$WORK/evil-key.pem"
rc=0
start_nginx "$WORK/evil" "ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate $WORK/evil-chain.pem; ssl_certificate_key $WORK/evil-key.pem;
    location / { return 200 '{\"status\":\"success\",\"data\":{\"env\":{\"EVIL\":\"eWVz\"}}}'; }" || rc=$?
if [ $rc = 77 ]; then
  echo "skip: nginx is not installed (marble-as-Coordinator check)"
elif [ $rc != 0 ]; then
  bad "cannot start nginx: $(cat "$WORK/evil/error.log" 2>/dev/null)"
else
  [ "$(grep -c BEGIN "$WORK/evil-chain.pem")" = 2 ] && ok "a marble's chain (leaf + intermediate) to pose with" || bad "creds"
  rc=0
  premain dump "$WORK/evil1" EDG_MARBLE_COORDINATOR_ADDR=127.0.0.1:$NGINX_PORT CAIRN_COORDINATOR_ROOT_CA="$WORK/rootA.pem" \
    DUMP_ENV=EVIL "$BIN/cairn-premain" -- "$DUMP" 2>"$WORK/evil1.log" || rc=$?
  # (over gRPC nginx cannot even answer: the failure says the server was not authenticated)
  [ $rc -ne 0 ] && [ ! -e "$WORK/evil1/dump.txt" ] && grep -qE "impostor|server not authenticated" "$WORK/evil1.log" \
    && ok "a marble posing as the Coordinator is refused with the root CA" || bad "marble impostor rc=$rc $(cat "$WORK/evil1.log")"
  if [ "${CAIRN_ACTIVATION_PROTOCOL:-json}" = grpc ]; then
    echo "skip: unauthenticated control (nginx serves a forged JSON answer, not gRPC)"
  else
  premain dump "$WORK/evil2" EDG_MARBLE_COORDINATOR_ADDR=127.0.0.1:$NGINX_PORT DUMP_ENV=EVIL \
    "$BIN/cairn-premain" -- "$DUMP" 2>/dev/null && grep -qx "env EVIL=796573" "$WORK/evil2/dump.txt" \
    && ok "(without a root CA, as in MarbleRun, the marble takes the forged configuration)" || bad "unauthenticated control"
  fi
fi

# --- retries --------------------------------------------------------------------
start_coordinator C
D="$WORK/retry"
mkdir -p "$D"
(cd "$D" && exec env EDG_MARBLE_TYPE=dump EDG_MARBLE_COORDINATOR_ADDR="$C_MESH" CAIRN_EVIDENCE=sim DUMP_OUT="$D/dump.txt" \
  CAIRN_PREMAIN_RETRY_DELAY_MS=100 CAIRN_PREMAIN_RETRY_MAX_MS=200 CAIRN_PREMAIN_RETRIES=100 \
  "$BIN/cairn-premain" -- "$DUMP") 2>"$WORK/retry.log" &
RP=$!
PIDS+=($RP)
sleep 1
[ ! -e "$D/dump.txt" ] && grep -q "retry" "$WORK/retry.log" && ok "no manifest yet: premain waits and retries" \
  || bad "retry: $(cat "$WORK/retry.log")"
cli --coordinator-cert "$WORK/c.pem" manifest set "$WORK/manifest.json" "$C_CLIENT" -i >/dev/null 2>&1
wait_file "$D/dump.txt" 10 && ok "activated once the manifest was set" || bad "no activation after retry"
wait "$RP" 2>/dev/null && ok "retried premain exec'd and exited 0" || bad "retried premain exit"
D="$WORK/unreach"
mkdir -p "$D"
start=$(date +%s)
rc=0
(cd "$D" && env EDG_MARBLE_TYPE=dump EDG_MARBLE_COORDINATOR_ADDR=127.0.0.1:1 CAIRN_EVIDENCE=sim DUMP_OUT="$D/dump.txt" \
  CAIRN_PREMAIN_RETRY_DELAY_MS=50 CAIRN_PREMAIN_RETRIES=4 "$BIN/cairn-premain" -- "$DUMP") 2>"$WORK/unreach.log" || rc=$?
took=$(($(date +%s) - start))
[ $rc = 1 ] && [ ! -e "$D/dump.txt" ] && [ "$(grep -c 'retry' "$WORK/unreach.log")" = 3 ] && [ $took -lt 10 ] \
  && grep -q "after all retries.*cannot reach 127.0.0.1:1" "$WORK/unreach.log" \
  && ok "unreachable: 3 retries, then a clear failure, no exec (${took}s)" || bad "unreachable rc=$rc $(cat "$WORK/unreach.log")"
# it_premain_grpc runs this script with CAIRN_ACTIVATION_PROTOCOL=grpc: the
# refusals above must then have come over gRPC, and none over JSON
if [ "${CAIRN_ACTIVATION_PROTOCOL:-json}" = grpc ]; then
  grep -q "activation refused .* wire=grpc result=forbidden" "$WORK/A.log" && ! grep -q "activation refused .* wire=http " "$WORK/A.log" \
    && ok "CAIRN_ACTIVATION_PROTOCOL=grpc: premain activated over gRPC" || bad "grpc wire not used: $(grep refused "$WORK/A.log")"
else
  grep -q "activation refused .* wire=http result=forbidden" "$WORK/A.log" && ! grep -q "wire=grpc" "$WORK/A.log" \
    && ok "default protocol: premain activated over JSON" || bad "json wire not used: $(grep refused "$WORK/A.log")"
fi
finish
