#!/usr/bin/env bash
# A successful activation: leaf certificate (inventory §3.3), chain, files,
# env (templates + MARBLE_PREDEFINED_*), argv, per-marble secrets; metrics
# and /events afterwards.
. "$(dirname "$0")/lib.sh"
write_manifest "$WORK/m.json"
start_coord a
set_manifest_file "$WORK/m.json"
check "manifest set" eq "$CODE" "200"
curl -sk "https://$CLIENT/api/v2/quote" | jq -r .data.cert >"$WORK/chain.pem"
awk '/BEGIN/{n++} n==1' "$WORK/chain.pem" >"$WORK/inter.pem"
awk '/BEGIN/{n++} n==2' "$WORK/chain.pem" >"$WORK/root.pem"

U=3f2504e0-4f89-41d3-9a0c-0305e82c3301
activate web --uuid "$U"
check "activation -> 200 success" eq "$CODE $(jqv .status)" "200 success"
env_of() { jqv ".data.env[\"$1\"]" | base64 -d; }
file_of() { jqv ".data.files[\"$1\"]" | base64 -d; }
env_of MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN >"$WORK/mchain.pem"
awk '/BEGIN/{n++} n==1' "$WORK/mchain.pem" >"$WORK/leaf.pem"
env_of MARBLE_PREDEFINED_ROOT_CA >"$WORK/mroot.pem"
env_of MARBLE_PREDEFINED_PRIVATE_KEY >"$WORK/leaf.key"
env_of MARBLE_PREDEFINED_COORDINATOR_ROOT_CA >"$WORK/croot.pem"
check "chain = leaf + Coordinator intermediate" eq "$(awk '/BEGIN/{n++} n==2' "$WORK/mchain.pem")" "$(cat "$WORK/inter.pem")"
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256; }
check "COORDINATOR_ROOT_CA = the root" eq "$(fp "$WORK/croot.pem")" "$(fp "$WORK/root.pem")"
check "manifest env cannot override MARBLE_PREDEFINED_ROOT_CA" contains "$(cat "$WORK/mroot.pem")" "BEGIN CERTIFICATE"
check "leaf subject CN = UUID" contains "$(openssl x509 -in "$WORK/leaf.pem" -noout -subject)" "CN = $U"
check "leaf issuer = intermediate CA" contains "$(openssl x509 -in "$WORK/leaf.pem" -noout -issuer)" "MarbleRun Coordinator - Intermediate CA"
TXT=$(openssl x509 -in "$WORK/leaf.pem" -noout -text)
check "leaf key is P-384" contains "$TXT" "NIST CURVE: P-384"
check "leaf marble type extension (raw bytes 'web')" contains "$TXT" "1.3.9903.2.1: "$'\n'"                web"
check "leaf SANs from the CSR" contains "$TXT" "DNS:localhost, DNS:marble.example, IP Address:127.0.0.1"
check "leaf KU DigitalSignature + KeyAgreement" contains "$TXT" "Digital Signature, Key Agreement"
check "leaf EKU server + client" contains "$TXT" "TLS Web Server Authentication, TLS Web Client Authentication"
check "leaf not after ~292 years" contains "$(openssl x509 -in "$WORK/leaf.pem" -noout -enddate)" "23"
check "leaf key matches the leaf cert" eq "$(openssl pkey -in "$WORK/leaf.key" -pubout | sha256sum)" "$(openssl x509 -in "$WORK/leaf.pem" -pubkey -noout | sha256sum)"
check "leaf verifies against root via intermediate" openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/inter.pem" "$WORK/leaf.pem"
check "leaf verifies against the Marble Root" openssl verify -CAfile "$WORK/mroot.pem" "$WORK/leaf.pem"
check "Marble Root is self-signed with the intermediate key" eq "$(openssl x509 -in "$WORK/mroot.pem" -pubkey -noout)" "$(openssl x509 -in "$WORK/inter.pem" -pubkey -noout)"
RTXT=$(openssl x509 -in "$WORK/root.pem" -noout -text)
check "root CN" contains "$RTXT" "Subject: CN = MarbleRun Coordinator"
check "root SANs: localhost + 127.0.0.1 + ::1" contains "$RTXT" "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
check "root is a CA" contains "$RTXT" "CA:TRUE"
check "templated file: marble cert" cmp -s <(file_of /etc/cert.pem) "$WORK/leaf.pem"
K1=$(file_of /etc/key)
check "per-marble symmetric key: 16 bytes hex" eq "${#K1}" "32"
check "shared secret cert file" contains "$(file_of /etc/shared.pem)" "BEGIN CERTIFICATE"
check "env GREETING" eq "$(env_of GREETING)" "hello"
check "argv" eq "$(jqv '.data.argv | join(" ")')" "web --port 8080"
# same UUID again: the private key is derived from (uuid, name, type): same value
activate web --uuid "$U"
check "second activation of the same UUID -> 200" eq "$CODE" "200"
check "private symmetric key deterministic per UUID" eq "$(file_of /etc/key)" "$K1"
# MaxActivations 2 counted per type: a third activation (new UUID) is refused
activate web
check "MaxActivations reached -> 403" eq "$CODE $(jqv .message)" "403 marble verification failed: reached the maximum number of activations (2) for marble type \"web\""
activate free
check "unlimited type -> 200" eq "$CODE" "200"
check "no templates for free: env has only the predefined vars" eq "$(jqv '.data.env | keys | join(",")')" "MARBLE_PREDEFINED_COORDINATOR_ROOT_CA,MARBLE_PREDEFINED_MARBLE_CERTIFICATE_CHAIN,MARBLE_PREDEFINED_PRIVATE_KEY,MARBLE_PREDEFINED_ROOT_CA"
M=$(curl -s "http://$METRICS/metrics")
check "metric: activations_total for the UUID" contains "$M" "coordinator_marble_activations_total{type=\"web\",uuid=\"$U\"} 2"
check "metric: success_total for the UUID" contains "$M" "coordinator_marble_activations_success_total{type=\"web\",uuid=\"$U\"} 2"
check "metric: evidence verifications sim ok" contains "$M" "cairn_evidence_verifications_total{type=\"sim\",result=\"ok\"} 4"
check "metric: activation latency count" contains "$M" "cairn_activation_duration_seconds_count 3"
check "metric: refusal forbidden" contains "$M" "cairn_activation_refusals_total{result=\"forbidden\"} 1"
check "metric: mesh API request counter" contains "$M" "server_mesh_api_http_request_total{path=\"/api/v2/activate\",code=\"200\",method=\"post\"} 3"
check "metric: client API request counter" contains "$M" "server_client_api_http_request_total{path=\"/api/v2/manifest\",code=\"200\",method=\"post\"} 1"
E=$(curl -s "http://$METRICS/events")
check "/events lists the activations" eq "$(printf '%s' "$E" | jq 'length')" "3"
check "/events entry shape" eq "$(printf '%s' "$E" | jq -r '.[0].activation.marbleType + " " + .[0].activation.uuid')" "web $U"
stop_coord
finish
