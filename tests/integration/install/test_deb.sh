#!/usr/bin/env bash
# The Debian package as `make deb` builds it (CPack, DEB generator, on this
# build tree, output into a temp dir): its metadata (Depends from
# dpkg-shlibdeps), its exact file list (dpkg-deb -c), and its binaries run
# from a temp root (dpkg-deb -x): the installed Coordinator, set up by the
# installed CLI, queried by samples/libcairn built against the unpacked
# libcairn with the unpacked cairn.pc.
# Skips (77) in sanitizer builds (packages are built from the release build).
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR [SANITIZE]}" && pwd)
SANITIZE=${2:-}
case "$SANITIZE" in ON|on|1|TRUE|true) echo "SKIP: sanitizer build"; exit 77 ;; esac
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
source "$SRC/tests/integration/cli/harness.sh" "$BUILD_DIR/bin"
CC=${CC:-cc}
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR DESTDIR

# What `make deb` runs (cd build && cpack -G DEB), with the output elsewhere.
cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$WORK/out" >"$WORK/cpack.log" 2>&1 \
  && ok "cpack -G DEB" || bad "cpack: $(tail -5 "$WORK/cpack.log")"
deb=$(ls "$WORK"/out/cairn_*.deb 2>/dev/null | head -1)
[ -f "$deb" ] && ok "package $(basename "$deb") ($(stat -c %s "$deb") bytes)" || { bad "no .deb produced"; finish; exit 1; }

dpkg-deb -f "$deb" Package Version Architecture Depends >"$WORK/fields" 2>&1
grep -qx "Package: cairn" "$WORK/fields" && grep -qx "Architecture: $(dpkg --print-architecture)" "$WORK/fields" \
  && ok "Package/Architecture" || bad "fields: $(cat "$WORK/fields")"
dep=$(sed -n 's/^Depends: //p' "$WORK/fields")
missing=""
for lib in libc6 libssl3 libcurl4 libjansson4 libevent libyaml libtss2-esys libprotobuf-c libnghttp2; do
  [[ $dep == *"$lib"* ]] || missing+=" $lib"
done
[ -z "$missing" ] && ok "Depends (shlibdeps): $dep" || bad "Depends lacks$missing: $dep"

# The file list, exactly (directories aside).
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|' | sort >"$WORK/got"
{
  printf '%s\n' /usr/bin/cairn /usr/bin/cairn-coordinator /usr/bin/cairn-premain \
    /usr/lib/libcairn.a /usr/lib/libcairn.so /usr/lib/libcairn.so.0 /usr/lib/libcairn.so.0.1.0 \
    /usr/lib/pkgconfig/cairn.pc /usr/lib/systemd/system/cairn-coordinator.service \
    /usr/share/bash-completion/completions/cairn /usr/share/zsh/vendor-completions/_cairn \
    /usr/share/fish/vendor_completions.d/cairn.fish \
    /usr/share/doc/cairn/LICENSE
  for h in "$SRC"/include/cairn/*.h; do echo "/usr/include/cairn/$(basename "$h")"; done
  for d in "$SRC"/docs/*.md; do echo "/usr/share/doc/cairn/$(basename "$d")"; done
} | sort >"$WORK/want"
if diff -u "$WORK/want" "$WORK/got" >"$WORK/list.diff"; then ok "file list: $(wc -l <"$WORK/got") files as expected"
else bad "file list differs (-want +got): $(grep '^[-+]/' "$WORK/list.diff" | tr '\n' ' ')"; fi

# Unpack into a temp root and run from there.
R=$WORK/root
dpkg-deb -x "$deb" "$R" && ok "dpkg-deb -x" || bad "dpkg-deb -x failed"
export LD_LIBRARY_PATH=$R/usr/lib
"$R/usr/bin/cairn" --help >"$WORK/help.out" 2>&1 && grep -q manifest "$WORK/help.out" \
  && ok "unpacked cairn --help" || bad "cairn --help: $(head -3 "$WORK/help.out")"
grep -qx "ExecStart=/usr/bin/cairn-coordinator" "$R/usr/lib/systemd/system/cairn-coordinator.service" \
  && [ -x "$R/usr/bin/cairn-coordinator" ] && ok "unit's ExecStart is in the package" || bad "unit ExecStart"
BIN=$R/usr/bin
start_coordinator A
cli manifest set "$SRC/samples/demo/manifest.json" "$A_CLIENT" -i >/dev/null 2>&1 \
  && ok "unpacked cli sets the manifest on the unpacked coordinator" || bad "manifest set"
export PKG_CONFIG_PATH=$R/usr/lib/pkgconfig
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC/samples/libcairn/coordinator-status.c" $(pkg-config --cflags --libs cairn) \
  -o "$WORK/dyn" 2>"$WORK/cc.log" && ok "sample builds against the unpacked libcairn" \
  || bad "sample build: $(head -5 "$WORK/cc.log")"
grep -q "libcairn.so.0 => $R/usr/lib/" <<<"$(ldd "$WORK/dyn")" && ok "sample loads the unpacked libcairn.so" \
  || bad "ldd: $(ldd "$WORK/dyn" | grep cairn)"
out=$("$WORK/dyn" "$A_CLIENT" --insecure 2>&1) || true
[[ $out == *"status: 3: "*"manifest: "[0-9a-f]* ]] && ok "sample: status + manifest" || bad "sample: $out"
finish
