#!/usr/bin/env bash
# Installs every Debian package that building, testing and demoing Cairn needs.
# Idempotent: packages already present are not reinstalled, and `apt-get update`
# runs at most once per invocation (only when something is missing).
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-dev
  # libraries (DESIGN §3)
  libssl-dev openssl libevent-dev libcurl4-openssl-dev libjansson-dev
  libtss2-dev libyaml-dev
  # `cairn kata policy-hash`: Kata's initdata annotation is gzip-compressed
  zlib1g-dev
  # JOSE for the KBS protocol (JWK/JWE/JWS): latchset's libjose; the KBS tests' other side is jwcrypto
  libjose-dev python3-jwcrypto
  # gRPC activation (DESIGN §7): HTTP/2 and protobuf messages, the .proto compiled at build time
  libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  # make deb: CPack's DEB generator finds ELF files with file(1) for dpkg-shlibdeps (dpkg-dev)
  file dpkg-dev
  # unit tests
  libcmocka-dev
  # raw HTTP clients of the hardening tests (request smuggling corpus, connection floods)
  python3
  # integration tests, demo and benchmarks
  curl jq etcd-server etcd-client swtpm swtpm-tools tpm2-tools nginx-light procps python3
  # gRPC tests: an independent gRPC client (stubs generated at test time) and hostile HTTP/2;
  # python3-cryptography for mr_marble.py's key, certificate and CSR (the MarbleRun suite uses it too)
  python3-grpcio python3-grpc-tools python3-h2 nghttp2-client python3-cryptography
  # the CLI's --pkcs11-* flags (OpenSSL pkcs11 engine) and their test token
  libengine-pkcs11-openssl softhsm2 opensc
  # test_feature_gates.sh: a Coordinator at the time the SGX test collateral was valid (libfaketime)
  faketime
  # the guides' doc tests (tests/integration/docs): a network and PID namespace per guide
  util-linux iproute2
  # cairn tpm predict tests: systemd-measure (package systemd), the real systemd-stub to build UKIs
  # on (systemd-boot-efi), objcopy/ld (binutils) and cc to add sections and link a PE stub
  systemd systemd-boot-efi binutils gcc
  # the Coordinator under systemd (docs/systemd.md): sd_notify from libsystemd; the unit's
  # test runs systemd-analyze verify/security (package systemd, above; no running systemd needed)
  libsystemd-dev
  # Prometheus exposition checked by promtool (tests/integration/service/test_metrics.sh)
  prometheus
  # it_cli_completion: the generated zsh script must parse, the fish one must complete (fish -c 'complete -C')
  zsh fish
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Only promtool is wanted from the prometheus package: on a machine run by
# systemd its postinst starts a Prometheus server (:9090), which is stopped.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
echo "install-deps: done"
