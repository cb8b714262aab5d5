#!/usr/bin/env bash
# The "same" rows of docs/compatibility.md, checked against the running
# Coordinator: facts read from MarbleRun's source (coordinator/server,
# coordinator/state, coordinator/crypto, coordinator/core/marbleapi.go;
# /work/shared/reference/marblerun-inventory.md §2, §3.3) that MarbleRun
# clients and scripts depend on: state codes and messages, response shapes of
# every v1/v2 endpoint, JSend envelopes and their content types, the
# certificates (names, keys, flags, SANs, which one each listener presents),
# the manifest signature and fingerprint, the marble leaf certificate.
. "$(dirname "$0")/lib.sh"

MSG1="Coordinator is in recovery mode. Either upload a key to unseal the saved state, or set a new manifest. For more information on how to proceed, consult the documentation."
MSG2="Coordinator is ready to accept a manifest."
MSG3="Coordinator is running correctly and ready to accept marbles."
ctype() { curl -sk -o /dev/null -w '%{content_type}' "$@" || true; }
subj_cn() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p'; }
iss_cn() { openssl x509 -in "$1" -noout -issuer -nameopt multiline | sed -n 's/^ *commonName *= //p'; }
text() { openssl x509 -in "$1" -noout -text; }

render mesh.json "$WORK/m.json"; with_marble_identity "$WORK/m.json"
start_coord c

# ---- state 2
req GET /api/v2/status
check "state 2: code and MarbleRun's message" eq "$(jqv '[.status, .data.code, .data.message] | @tsv')" \
  "$(printf 'success\t2\t%s' "$MSG2")"
check "JSend success is application/json" eq "$(ctype "https://$CLIENT/api/v2/status")" "application/json"
req GET /status
check "v1 /status: {StatusCode, StatusMessage}" eq "$(jqv '.data | keys | join(",")')" "StatusCode,StatusMessage"
req GET /api/v2/manifest
# differs by design (issue 11, docs/compatibility.md): MarbleRun answers 500
# error; a request in the wrong state is a client error, 409 fail naming the
# state. MarbleRun's client treats every status but 200/401/405 alike.
check "GET manifest before one is set: 409 fail (MarbleRun: 500)" eq "$CODE:$(jqv .status)" "409:fail"
req GET /no/such/path
check "JSend error is text/plain (Go http.Error)" eq "$(ctype "https://$CLIENT/no/such/path")" "text/plain; charset=utf-8"
req GET /manifest
check "v1 GET /manifest before one is set: 200 with empty fields" \
  eq "$CODE:$(jqv '.data | [.ManifestSignatureRootECDSA, .ManifestSignature, .Manifest] | @json')" '200:[null,"",null]'
req GET /no/such/path
check "unknown path: 405 error" eq "$CODE:$(jqv .status)" "405:error"
req PUT /api/v2/status
check "unsupported method: 405" eq "$CODE" 405
req POST /recover
check "v1 POST /recover: 410 with MarbleRun's text" eq "$CODE:$(jqv .message)" \
  "410:Recovering the Coordinator using the /recover API endpoint has been disabled. Use the /api/v2/recover endpoint instead."
req POST /api/v2/manifest -H 'Content-Type: application/json' -d 'not json'
check "POST manifest with a broken body: 400 fail, application/json" eq "$CODE:$(jqv .status)" "400:fail"
req GET /api/v2/recover/public-key
check "recover/public-key outside state 1: 409 fail (MarbleRun: 500)" eq "$CODE:$(jqv .status)" "409:fail"

# ---- certificates
check "quote: data {cert, quote}" eq "$(req GET /api/v2/quote; jqv '.data | keys | join(",")')" "cert,quote"
check "quote cert: intermediate then root" verify_coordinator "$WORK/c"
check "cert order in /quote: intermediate first" cmp -s "$WORK/c.cert1.pem" "$WORK/c.intermediate.pem"
R=$WORK/c.root.pem I=$WORK/c.intermediate.pem
check "root CN 'MarbleRun Coordinator'" eq "$(subj_cn "$R")" "MarbleRun Coordinator"
check "intermediate CN 'MarbleRun Coordinator - Intermediate CA', issued by the root" \
  eq "$(subj_cn "$I")|$(iss_cn "$I")" "MarbleRun Coordinator - Intermediate CA|MarbleRun Coordinator"
check "intermediate chains to the root" openssl verify -CAfile "$R" "$I"
for c in "$R" "$I"; do
  t=$(text "$c")
  check "$(subj_cn "$c"): ECDSA P-384" contains "$t" "NIST CURVE: P-384"
  check "$(subj_cn "$c"): CA:TRUE" contains "$t" "CA:TRUE"
  check "$(subj_cn "$c"): KU Digital Signature, Certificate Sign" contains "$t" "Digital Signature, Certificate Sign"
  check "$(subj_cn "$c"): EKU serverAuth + clientAuth" contains "$t" "TLS Web Server Authentication, TLS Web Client Authentication"
done
t=$(text "$R")
check "root SANs: EDG_COORDINATOR_DNS_NAMES (localhost) + 127.0.0.1 + ::1" \
  eq "$(grep -A1 'Subject Alternative Name' <<<"$t" | tail -1 | tr -d ' ')" "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1"
# the client API presents the root itself, as a one-certificate chain
openssl s_client -connect "$CLIENT" -showcerts </dev/null 2>/dev/null >"$WORK/sclient.txt" || true
check "client API: one certificate in the chain" eq "$(grep -c 'BEGIN CERTIFICATE' "$WORK/sclient.txt")" 1
sed -n '/BEGIN CERT/,/END CERT/p' "$WORK/sclient.txt" >"$WORK/served.pem"
check "client API: the served certificate is the root" \
  eq "$(openssl x509 -in "$WORK/served.pem" -noout -fingerprint -sha256)" "$(openssl x509 -in "$R" -noout -fingerprint -sha256)"

# ---- state 3
set_manifest "$WORK/m.json"
check "manifest set: data {RecoverySecrets} (capitalised)" eq "$(jqv '.data | keys | join(",")')" "RecoverySecrets"
req GET /api/v2/status
check "state 3: MarbleRun's message" eq "$(jqv '[.data.code, .data.message] | @tsv')" "$(printf '3\t%s' "$MSG3")"
req GET /api/v2/manifest
check "GET manifest: {manifest, manifestFingerprint, manifestSignatureRootECDSA}" \
  eq "$(jqv '.data | keys | join(",")')" "manifest,manifestFingerprint,manifestSignatureRootECDSA"
jqv .data.manifest | base64 -d >"$WORK/served-manifest"
check "the served manifest is the bytes that were set" cmp -s "$WORK/served-manifest" "$WORK/m.json"
check "manifestFingerprint = hex SHA-256 of the raw manifest" \
  eq "$(jqv .data.manifestFingerprint)" "$(sha256sum "$WORK/m.json" | cut -d' ' -f1)"
jqv .data.manifestSignatureRootECDSA | base64 -d >"$WORK/sig.der"
openssl x509 -in "$R" -pubkey -noout >"$WORK/root.pub"
check "manifestSignatureRootECDSA: ECDSA (ASN.1) by the root key over SHA-256(manifest)" \
  openssl dgst -sha256 -verify "$WORK/root.pub" -signature "$WORK/sig.der" "$WORK/m.json"
req GET /manifest
check "v1 GET /manifest: {Manifest, ManifestSignature, ManifestSignatureRootECDSA}" \
  eq "$(jqv '.data | keys | join(",")')" "Manifest,ManifestSignature,ManifestSignatureRootECDSA"
check "v1 ManifestSignature = hex SHA-256" eq "$(jqv .data.ManifestSignature)" "$(sha256sum "$WORK/m.json" | cut -d' ' -f1)"
req GET /api/v2/update
check "GET update: {updateLog: [one JSON line per entry]}" eq "$(jqv '.data.updateLog[0] | fromjson | .update')" "Initial manifest set"
req GET /update
check "v1 GET /update: one string, lines ending in \\n" eq "$(jqv '.data | endswith("\n")')" true
req GET /api/v2/update-manifest
check "no pending update: 404 error" eq "$CODE:$(jqv .status)" "404:error"
req GET "/api/v2/secrets?s=meshKey"
check "secrets without a client certificate: 401 fail" eq "$CODE:$(jqv .status)" "401:fail"
ureq "$KEYS/admin.key" "$KEYS/admin.crt" GET "/api/v2/secrets?s=meshKey"
check "Secret object: MarbleRun's capitalised fields" \
  eq "$(jqv '.data.secrets.meshKey | keys | join(",")')" "Cert,Private,Public,Shared,Size,Type,UserDefined,ValidFor"
check "symmetric key: Private = Public" eq "$(jqv '.data.secrets.meshKey | .Private == .Public')" true
ureq "$KEYS/admin.key" "$KEYS/admin.crt" GET "/api/v2/secrets"
check "secrets without s: 400 fail" eq "$CODE:$(jqv .status)" "400:fail"
ureq "$KEYS/admin.key" "$KEYS/admin.crt" GET "/secrets?s=meshKey"
check "v1 GET /secrets: the map itself, unwrapped" eq "$(jqv '.data | keys | join(",")')" "meshKey"

# ---- the mesh listener and the marble leaf
openssl s_client -connect "$MESH" -showcerts </dev/null 2>/dev/null >"$WORK/smesh.txt" || true
sed -n '/BEGIN CERT/,/END CERT/p' "$WORK/smesh.txt" | awk '/BEGIN/{n++} n==1' >"$WORK/mesh.pem"
check "mesh: the Marble Root (CN of the intermediate, self-signed)" \
  eq "$(subj_cn "$WORK/mesh.pem")|$(iss_cn "$WORK/mesh.pem")" \
  "MarbleRun Coordinator - Intermediate CA|MarbleRun Coordinator - Intermediate CA"
check "mesh: the Marble Root has the intermediate's key" \
  eq "$(openssl x509 -in "$WORK/mesh.pem" -pubkey -noout)" "$(openssl x509 -in "$I" -pubkey -noout)"
D=$WORK/leafmarble
check "a marble activates" mr_activate meshClient "$D" localhost
awk '/BEGIN/{n++} n==1' "$D/env/MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN" >"$WORK/leaf.pem"
t=$(text "$WORK/leaf.pem")
check "leaf CN = the marble's UUID" eq "$(subj_cn "$WORK/leaf.pem")" "$(cat "$(uuid_file meshClient)")"
check "leaf issuer CN = Marble Root" eq "$(iss_cn "$WORK/leaf.pem")" "MarbleRun Coordinator - Intermediate CA"
check "leaf chains to the Marble Root" openssl verify -CAfile "$D/env/MARBLE_PREDEFINED_ROOT_CA" "$WORK/leaf.pem"
check "leaf chains to the intermediate too (same key and name)" openssl verify -partial_chain -CAfile "$I" "$WORK/leaf.pem"
check "leaf: ECDSA P-384" contains "$t" "NIST CURVE: P-384"
check "leaf: CA:FALSE" contains "$t" "CA:FALSE"
check "leaf: KU Digital Signature, Key Agreement" contains "$t" "Digital Signature, Key Agreement"
check "leaf: EKU serverAuth + clientAuth" contains "$t" "TLS Web Server Authentication, TLS Web Client Authentication"
# extension 1.3.9903.2.1: the raw UTF-8 bytes of the marble type (not DER-wrapped)
openssl asn1parse -in "$WORK/leaf.pem" >"$WORK/leaf.asn1"
# the extension value: an OCTET STRING of exactly the 10 bytes "meshClient"
# (a DER-wrapped string would be 12 bytes long and show as a nested structure)
ext=$(grep -A1 ':1.3.9903.2.1$' "$WORK/leaf.asn1" | tail -1 | sed -E 's/.* l= *([0-9]+) prim: OCTET STRING +:/\1 /')
check "leaf: extension 1.3.9903.2.1 = raw bytes of the marble type" eq "$ext" "10 meshClient"
check "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA = the Coordinator root" \
  eq "$(openssl x509 -in "$D/env/MARBLE_PREDEFINED_COORDINATOR_ROOT_CA" -noout -fingerprint -sha256)" \
     "$(openssl x509 -in "$R" -noout -fingerprint -sha256)"

# ---- state 1
cancel_coord
rm -f "$(SEAL)/sealed_key"
start_coord c
req GET /api/v2/status
check "state 1: MarbleRun's message" eq "$(jqv '[.data.code, .data.message] | @tsv')" "$(printf '1\t%s' "$MSG1")"
req GET /api/v2/update
check "update log in state 1: 409 fail (MarbleRun: 500)" eq "$CODE:$(jqv .status)" "409:fail"

# ---- the other MarbleRun variables: EDG_STARTUP_MANIFEST (set at boot: state
# 3 at once), EDG_COORDINATOR_PROMETHEUS_ADDR (/metrics, /events)
cancel_coord
MR_EXTRA_ENV=(EDG_STARTUP_MANIFEST="$WORK/m.json" EDG_COORDINATOR_PROMETHEUS_ADDR=127.0.0.1:0)
start_coord boot
MR_EXTRA_ENV=()
check "EDG_STARTUP_MANIFEST: state 3 right after the start" eq "$(status_code)" 3
req GET /api/v2/manifest
check "EDG_STARTUP_MANIFEST: that manifest is set" cmp -s <(jqv .data.manifest | base64 -d) "$WORK/m.json"
PROM=$(jq -r .metrics "$WORK/boot/ready.json")
check "EDG_COORDINATOR_PROMETHEUS_ADDR: /metrics served (plain HTTP)" \
  eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$PROM/metrics" || true)" 200
check "EDG_COORDINATOR_PROMETHEUS_ADDR: /events is a JSON array" \
  eq "$(curl -s "http://$PROM/events" | jq -r type 2>/dev/null)" array
# EDG_DEBUG_LOGGING=1 is accepted (every start here sets it); the Coordinator
# has no debug-level messages to show (docs/compatibility.md §3)

# ---- a seal directory that is not Cairn's (e.g. MarbleRun's, after a swap):
# the start is refused and nothing in it is touched (docs/compatibility.md §1.4)
cancel_coord
mkdir -p "$WORK/foreign/seal"
head -c 3000 /dev/urandom >"$WORK/foreign/seal/sealed_data"
head -c 600 /dev/urandom >"$WORK/foreign/seal/sealed_key"
sha256sum "$WORK/foreign/seal"/* >"$WORK/foreign.sum"
started=yes; start_coord foreign >/dev/null || started=no
check "a foreign seal directory: the Coordinator refuses to start" eq "$started" no
check "... saying it cannot load the sealed state" grep -q "cannot load the sealed state" "$WORK/foreign/log"
check "... and leaves the files as they were" sha256sum -c --quiet "$WORK/foreign.sum"
finish
