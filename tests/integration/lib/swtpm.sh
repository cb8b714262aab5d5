# A software TPM and a test AK for the integration tests (sourced, bash).
# Uses the caller's WORK (temp dir) and PIDS (processes to stop by PID), as
# lib/checks.sh and cli/harness.sh set them. Needs swtpm, tpm2-tools, openssl.

# swtpm_port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
swtpm_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# swtpm_start STATE_DIR: swtpm, a direct child, on a free loopback port pair
# (server p, control p+1), retried on a lost race; logs to $WORK/swtpm.log.
# On success its PID joins PIDS, SWTPM_PORT is p and TCTI is
# "swtpm:host=127.0.0.1,port=p";
# returns 1 (TCTI empty) when it cannot start.
swtpm_start() {
  local dir=$1 attempt p spid i
  TCTI=""
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5 6 7 8; do
    p=$((20000 + RANDOM % 40000))
    swtpm_port_free $p && swtpm_port_free $((p + 1)) || continue
    swtpm socket --tpm2 --tpmstate dir="$dir" --server type=tcp,port=$p,bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((p + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear >"$WORK/swtpm.log" 2>&1 &
    spid=$!
    for i in $(seq 60); do
      if ! swtpm_port_free $p && ! swtpm_port_free $((p + 1)); then TCTI="swtpm:host=127.0.0.1,port=$p"; break; fi
      kill -0 $spid 2>/dev/null || break
      sleep 0.05
    done
    # still ours? (the ports may belong to someone else and swtpm have died)
    if [ -n "$TCTI" ] && kill -0 $spid 2>/dev/null; then PIDS+=($spid); SWTPM_PORT=$p; return 0; fi
    TCTI=""
    kill $spid 2>/dev/null || true
    wait $spid 2>/dev/null || true
  done
  return 1
}

# tpm_make_ak HANDLE: an ECC AK under an ECC EK, made by tpm2-tools in $WORK
# (TPM2TOOLS_TCTI must point at the TPM), persisted at HANDLE; its public key
# in $WORK/ak-pub.pem. Output in $WORK/tools.log.
tpm_make_ak() {
  (cd "$WORK" && tpm2_createek -c ek.ctx -G ecc -u ek.pub && tpm2_flushcontext -t &&
    tpm2_createak -C ek.ctx -c ak.ctx -G ecc -g sha256 -s ecdsa -u ak.pub -f pem -n ak.name -r ak.priv &&
    tpm2_flushcontext -t && { tpm2_flushcontext -s || true; } &&
    tpm2_evictcontrol -c ak.ctx "$1" && tpm2_readpublic -c "$1" -f pem -o ak-pub.pem) >"$WORK/tools.log" 2>&1
}

# tpm_test_ca NAME CN: a self-signed P-256 CA in $WORK/NAME.{key,pem}.
tpm_test_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$1.key" -out "$WORK/$1.pem" \
    -days 2 -subj "/CN=$2" -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" >>"$WORK/openssl.log" 2>&1
}

# tpm_certify_ak CA OUT CN: a certificate for the TPM's AK public key
# ($WORK/ak-pub.pem), issued by $WORK/CA.{pem,key}, written to OUT.
tpm_certify_ak() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/dummy.key" \
    -subj "/CN=$3" -out "$WORK/ak.csr" >>"$WORK/openssl.log" 2>&1 &&
  printf 'keyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' >"$WORK/ak.ext" &&
  openssl x509 -req -in "$WORK/ak.csr" -CA "$WORK/$1.pem" -CAkey "$WORK/$1.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 1 -force_pubkey "$WORK/ak-pub.pem" -extfile "$WORK/ak.ext" -out "$2" >>"$WORK/openssl.log" 2>&1
}

# hexbin HEX: the bytes HEX stands for, on stdout; le32/le16 N: N little-endian
# (for the TCG event logs the tests write).
hexbin() { printf "$(printf '%s' "$1" | sed 's/../\\x&/g')"; }
le32() { local v=$1; printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)) $((v >> 16 & 255)) $((v >> 24 & 255)))"; }
le16() { local v=$1; printf "$(printf '\\x%02x\\x%02x' $((v & 255)) $((v >> 8 & 255)))"; }

# tpm_eventlog_pcr16 DIGEST_HEX DATA OUT: a TCG event log (crypto-agile, one
# SHA-256 bank) with the Spec ID header and one EV_IPL event on PCR 16 that
# records DIGEST_HEX with event data DATA (ASCII), as boot firmware or a
# launcher would write it; the verifier replays it against the quoted PCRs.
tpm_eventlog_pcr16() {
  {
    le32 0; le32 3; head -c 20 /dev/zero; le32 33                   # header: EV_NO_ACTION, SHA-1 zero digest
    printf 'Spec ID Event03\0'; le32 0; printf '\x00\x02\x00\x02'      # class, minor 0, major 2, errata 0, uintn 2
    le32 1; le16 11; le16 32; printf '\x00'                           # one bank: SHA-256 (0x000B), 32 bytes; no vendor info
    le32 16; le32 13; le32 1; le16 11; hexbin "$1"                  # PCR 16, EV_IPL, SHA-256 digest
    le32 ${#2}; printf '%s' "$2"
  } >"$3"
}
