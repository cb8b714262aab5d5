#!/usr/bin/env bash
# The client API speaks TLS 1.2 and 1.3 (MarbleRun's Go clients negotiate
# either), TLS 1.2 only with ECDHE + AEAD suites, no session resumption
# (tickets or cache) and no renegotiation; the mesh API stays TLS 1.3 only.
# The other side is openssl s_client and curl.
. "$(dirname "$0")/lib.sh"
start_coord tls
BODY=""
HOSTPORT=$CLIENT
sc() {   # sc HOSTPORT [s_client args]: sets OUT (handshake transcript)
  local hp=$1; shift
  OUT=$(echo | timeout 10 openssl s_client -connect "$hp" -servername localhost "$@" 2>&1 || true)
}
sc "$HOSTPORT" -tls1_2
check "TLS 1.2 handshake on the client API" contains "$OUT" "New, TLSv1.2,"
CIPHER=$(printf '%s\n' "$OUT" | sed -n 's/^ *Cipher *: //p' | head -1)
check "TLS 1.2 suite is ECDHE + AEAD ($CIPHER)" bash -c '[[ "$1" == ECDHE-ECDSA-* && ( "$1" == *GCM* || "$1" == *CHACHA20-POLY1305* ) ]]' _ "$CIPHER"
check "TLS 1.2: no session ticket and no session ID (nothing to resume)" \
  bash -c 'grep -q "New, TLSv1.2," <<<"$1" && ! grep -q "TLS session ticket:" <<<"$1" && grep -qE "^ *Session-ID: *$" <<<"$1"' _ "$OUT"
sc "$HOSTPORT" -tls1_3
check "TLS 1.3 handshake on the client API" contains "$OUT" "New, TLSv1.3,"
check "TLS 1.3: no session ticket" bash -c 'grep -q "New, TLSv1.3," <<<"$1" && ! grep -q "TLS session ticket:" <<<"$1"' _ "$OUT"
for c in ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA; do
  sc "$HOSTPORT" -tls1_2 -cipher "$c:@SECLEVEL=0"
  check "TLS 1.2 with the non-AEAD suite $c is refused" bash -c '! grep -q "Cipher is $1" <<<"$2" && ! grep -q "New, TLSv1.2," <<<"$2"' _ "$c" "$OUT"
done
sc "$HOSTPORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
check "TLS 1.1 is refused" bash -c '! grep -q "New, TLSv1.1," <<<"$1"' _ "$OUT"
# curl limited to TLS 1.2 gets the API
CODE=$(curl -sk --tlsv1.2 --tls-max 1.2 -o "$WORK/b" -w '%{http_code}' "https://$CLIENT/api/v2/status" || true)
BODY=$(cat "$WORK/b" 2>/dev/null || true)
check "curl --tls-max 1.2: GET /api/v2/status answers 200" eq "$CODE" 200
check "curl --tls-max 1.2: status body" eq "$(jqv .data.code)" 2
V=$(curl -sk --tlsv1.2 --tls-max 1.2 -o /dev/null "https://$CLIENT/api/v2/status" -v 2>&1 | sed -n 's/.*SSL connection using \(TLSv1\.[0-9]\).*/\1/p' | head -1 || true)
check "curl --tls-max 1.2 negotiated TLS 1.2 ($V)" eq "$V" "TLSv1.2"
# TLS 1.2 with a client certificate: MarbleRun users authenticate over 1.2 too
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/u.key" -out "$WORK/u.crt" \
  -subj /CN=u -days 2 2>/dev/null
sc "$HOSTPORT" -tls1_2 -cert "$WORK/u.crt" -key "$WORK/u.key"
check "TLS 1.2 handshake with a client certificate" contains "$OUT" "New, TLSv1.2,"
# renegotiation refused (client-initiated, TLS 1.2)
R=$( (echo R; sleep 1) | timeout 10 openssl s_client -connect "$HOSTPORT" -tls1_2 -servername localhost 2>&1 || true)
check "TLS 1.2 renegotiation is refused" contains "$R" "no renegotiation"
# the mesh API: TLS 1.3 only (MarbleRun's premains are Go and offer 1.3)
sc "$MESH" -tls1_2 -cert "$WORK/u.crt" -key "$WORK/u.key"
check "the mesh API refuses TLS 1.2" bash -c '! grep -q "New, TLSv1.2," <<<"$1"' _ "$OUT"
sc "$MESH" -tls1_3 -cert "$WORK/u.crt" -key "$WORK/u.key"
check "the mesh API speaks TLS 1.3" contains "$OUT" "New, TLSv1.3,"
finish
