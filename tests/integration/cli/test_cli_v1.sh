#!/usr/bin/env bash
# libcairn's v1 fallback, end to end: nginx plays an old MarbleRun-compatible
# Coordinator that answers 405 on every /api/v2/ path and serves the legacy v1
# paths and shapes (capitalised keys). The CLI must work against it unchanged.
# Skips (77) when nginx is not installed.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "SKIP: nginx is not installed"; exit 77; }
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
source "$(dirname "$0")/harness.sh"

V=$WORK/v1
mkdir -p "$V/tmp"
# The "Coordinator" root: self-signed P-384, as the TLS server certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$V/root.key" -out "$V/root.pem" \
  -subj "/CN=MarbleRun Coordinator" -days 2 -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
printf '{"Packages":{"p":{"Debug":true,"UniqueID":"00"}},"Marbles":{"m":{"Package":"p"}}}' >"$V/manifest.json"
openssl dgst -sha256 -sign "$V/root.key" -out "$V/manifest.sig" "$V/manifest.json"
HASH=$(sha256sum "$V/manifest.json" | cut -d' ' -f1)
# (insecure mode does not verify the quote: these 4 bytes only test --save-sgx-quote)
jq -cn --rawfile c "$V/root.pem" '{status:"success",data:{Cert:$c,Quote:"AAECAw=="}}' >"$V/quote.json"
jq -cn --arg m "$(base64 -w0 "$V/manifest.json")" --arg s "$(base64 -w0 "$V/manifest.sig")" --arg h "$HASH" \
  '{status:"success",data:{ManifestSignatureRootECDSA:$s,ManifestSignature:$h,Manifest:$m}}' >"$V/manifest-v1.json"
# A second manifest answer whose signature is over other bytes.
printf 'other' >"$V/other"
openssl dgst -sha256 -sign "$V/root.key" -out "$V/other.sig" "$V/other"
jq -cn --arg m "$(base64 -w0 "$V/manifest.json")" --arg s "$(base64 -w0 "$V/other.sig")" --arg h "$HASH" \
  '{status:"success",data:{ManifestSignatureRootECDSA:$s,ManifestSignature:$h,Manifest:$m}}' >"$V/manifest-badsig.json"

start_nginx() {
  local port=$1
  cat >"$V/nginx.conf" <<CONF
daemon off;
master_process off;
pid $V/nginx.pid;
error_log $V/error.log;
events {}
http {
  access_log $V/access.log;
  client_body_temp_path $V/tmp; proxy_temp_path $V/tmp; fastcgi_temp_path $V/tmp;
  uwsgi_temp_path $V/tmp; scgi_temp_path $V/tmp;
  default_type application/json;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $V/root.pem;
    ssl_certificate_key $V/root.key;
    location /api/v2/ { return 405 '{"status":"error","data":null,"message":"method not allowed"}'; }
    location = /status { return 200 '{"status":"success","data":{"StatusCode":3,"StatusMessage":"legacy coordinator"}}'; }
    location = /quote { alias $V/quote.json; }
    location = /manifest {
      if (\$request_method = POST) { return 200 '{"status":"success","data":null}'; }
      alias $V/manifest-v1.json;
    }
    location = /update { return 200 '{"status":"success","data":"{\\\\"update\\\\":\\\\"one\\\\"}\\\\n{\\\\"update\\\\":\\\\"two\\\\"}\\\\n"}'; }
  }
}
CONF
  "$NGINX" -p "$V" -e "$V/error.log" -c "$V/nginx.conf" >"$WORK/nginx.log" 2>&1 &
  NPID=$!
  for i in $(seq 60); do
    if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
      sleep 0.05
      kill -0 $NPID 2>/dev/null && return 0   # ours only if our nginx is alive
      return 1
    fi
    kill -0 $NPID 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
PORT=""
for attempt in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 40000))
  if start_nginx $p; then PORT=$p; PIDS+=($NPID); break; fi
  kill $NPID 2>/dev/null || true; wait $NPID 2>/dev/null || true
done
[ -n "$PORT" ] || { cat "$V/error.log"; echo "cannot start nginx"; exit 1; }
ADDR=localhost:$PORT

out=$(cli status "$ADDR" -i 2>/dev/null) && [ "$out" = "3: legacy coordinator" ] && ok "status via v1 (/quote and /status shapes)" \
  || bad "status: $out"
grep -q '"GET /api/v2/quote HTTP/1.1" 405' "$V/access.log" && grep -q '"GET /quote HTTP/1.1" 200' "$V/access.log" \
  && ok "v2 first, v1 after the 405" || bad "access log: $(cat "$V/access.log")"
out=$(cli manifest verify "$V/manifest.json" "$ADDR" -i 2>"$WORK/err") && [ "$(tail -1 <<<"$out")" = OK ] \
  && grep -q "$HASH, signed by its root key" "$WORK/err" \
  && ok "manifest verify via v1 (capitalised keys, root signature checked)" || bad "verify: $out"
cmp -s <(awk '/BEGIN/{p=1} p' "$WORK/xdg/cairn/coordinators/localhost_$PORT.pem") "$V/root.pem" \
  && ok "root cached from the v1 Cert (root only) by manifest verify" || bad "cache: $(ls -R "$WORK/xdg")"
cli manifest get "$ADDR" -i -o "$WORK/got.json" >/dev/null 2>&1 && cmp -s "$WORK/got.json" "$V/manifest.json" \
  && ok "manifest get via v1: exact bytes" || bad "manifest get"
[ "$(cli manifest log "$ADDR" -i 2>/dev/null)" = "$(printf 'Successfully verified Coordinator, now requesting update log\nUpdate log:\n{"update":"one"}\n{"update":"two"}')" ] \
  && ok "manifest log via v1 (one string)" || bad "log: $(cli manifest log "$ADDR" -i 2>&1)"
cli manifest set "$V/manifest.json" "$ADDR" -i >/dev/null 2>&1 && grep -q '"POST /manifest HTTP/1.1" 200' "$V/access.log" \
  && ok "manifest set via v1 (raw body to POST /manifest)" || bad "manifest set"
expect_error "nonce needs API v2" "HTTP 405" cli status "$ADDR" -i --nonce abc
cli status "$ADDR" -i --save-sgx-quote "$WORK/q.bin" >/dev/null 2>&1 && [ "$(od -An -tx1 "$WORK/q.bin" | tr -d ' \n')" = 00010203 ] \
  && ok "--save-sgx-quote writes the raw quote" || bad "--save-sgx-quote"
# A signature over other bytes: verify must refuse.
cp "$V/manifest-v1.json" "$V/manifest-good.json"
cp "$V/manifest-badsig.json" "$V/manifest-v1.json"
expect_error "bad manifest signature" "signature does not verify" cli manifest verify "$V/manifest.json" "$ADDR" -i
cp "$V/manifest-good.json" "$V/manifest-v1.json"
finish
