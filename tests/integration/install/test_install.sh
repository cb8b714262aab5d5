#!/usr/bin/env bash
# `cmake --install` as a user runs it: into a temp prefix and, staged, with
# DESTDIR. The installed tree must stand alone: samples/libcairn compiled with
# nothing but `pkg-config --cflags --libs cairn` from that prefix (shared, and
# --static from a moved copy without libcairn.so), run against the installed
# cairn-coordinator; the installed CLI, completion, unit and docs are there.
# Skips (77) in sanitizer builds (a plain program cannot load ASan objects).
BUILD_DIR=$(cd "${1:?usage: $0 BUILD_DIR [SANITIZE]}" && pwd)
SANITIZE=${2:-}
case "$SANITIZE" in ON|on|1|TRUE|true) echo "SKIP: sanitizer build"; exit 77 ;; esac
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
source "$SRC/tests/integration/cli/harness.sh" "$BUILD_DIR/bin"
CC=${CC:-cc}
unset PKG_CONFIG_PATH PKG_CONFIG_LIBDIR DESTDIR

# --- cmake --install --prefix P -------------------------------------------
P=$WORK/prefix
cmake --install "$BUILD_DIR" --prefix "$P" >"$WORK/install.log" 2>&1 \
  && ok "cmake --install --prefix" || bad "install: $(tail -5 "$WORK/install.log")"
pc=$(find "$P" -name cairn.pc)
LIBDIR=$(dirname "$(dirname "$pc")")
[ -n "$pc" ] && ok "cairn.pc in ${LIBDIR#"$P"/}/pkgconfig" || bad "no cairn.pc installed"
missing=""
for f in bin/cairn bin/cairn-coordinator bin/cairn-premain \
         "${LIBDIR#"$P"/}/libcairn.a" "${LIBDIR#"$P"/}/libcairn.so" "${LIBDIR#"$P"/}/libcairn.so.0" \
         include/cairn/cairn.h include/cairn/client.h include/cairn/error.h include/cairn/marble.h \
         share/bash-completion/completions/cairn lib/systemd/system/cairn-coordinator.service \
         share/doc/cairn/README.md share/doc/cairn/LICENSE share/doc/cairn/building.md share/doc/cairn/coordinator.md; do
  [ -e "$P/$f" ] || missing+=" $f"
done
[ -z "$missing" ] && ok "programs, libcairn (shared, static), headers, completion, unit, docs installed" \
  || bad "not installed:$missing"
# The unit's Documentation= points at a doc that is installed.
doc=$(sed -n 's|^Documentation=file:///usr/||p' "$P/lib/systemd/system/cairn-coordinator.service" 2>/dev/null || true)
[ -n "$doc" ] && [ -f "$P/$doc" ] && ok "unit Documentation= names an installed file ($doc)" \
  || bad "unit Documentation=$doc not installed"

# The installed programs run from the prefix alone.
"$P/bin/cairn" --help >"$WORK/help.out" 2>&1 && grep -q "manifest" "$WORK/help.out" \
  && ok "installed cairn --help" || bad "cairn --help: $(head -3 "$WORK/help.out")"
for prog in cairn cairn-coordinator cairn-premain; do
  if [ ! -x "$P/bin/$prog" ]; then bad "$prog not installed"
  elif ldd "$P/bin/$prog" | grep -Eq "not found|$BUILD_DIR"; then bad "$prog needs the build tree: $(ldd "$P/bin/$prog" | grep -E "not found|$BUILD_DIR")"
  else ok "$prog: every library resolves outside the build tree"; fi
done
# bash completion loads and registers `cairn`.
bash -c "source '$P/share/bash-completion/completions/cairn' && complete -p cairn" >"$WORK/compl.out" 2>&1 \
  && ok "completion registers: $(cat "$WORK/compl.out")" || bad "completion: $(cat "$WORK/compl.out")"

# pkg-config from the installed prefix only.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
inc=$(pkg-config --variable=includedir cairn)
[ "$(cd "$inc" 2>/dev/null && pwd)" = "$P/include" ] && ok "cairn.pc includedir is the install prefix" \
  || bad "cairn.pc includedir=$inc (prefix $P)"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC/samples/libcairn/coordinator-status.c" $(pkg-config --cflags --libs cairn) \
  -o "$WORK/dyn" 2>"$WORK/cc.log" && ok "sample builds with pkg-config --cflags --libs cairn" \
  || bad "shared build: $(head -5 "$WORK/cc.log")"
LD_LIBRARY_PATH=$LIBDIR ldd "$WORK/dyn" | grep -q "libcairn.so.0 => $LIBDIR/" \
  && ok "sample loads the installed libcairn.so" || bad "ldd: $(LD_LIBRARY_PATH=$LIBDIR ldd "$WORK/dyn" | grep cairn)"

# --static from a moved copy of the prefix without the shared library: the
# .pc file follows its tree, and --static lists what libcairn.a needs.
M=$WORK/moved
cp -a "$P" "$M" && rm -f "$M/${LIBDIR#"$P"/}"/libcairn.so*
export PKG_CONFIG_PATH=$M/${LIBDIR#"$P"/}/pkgconfig
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC/samples/libcairn/coordinator-status.c" $(pkg-config --static --cflags --libs cairn) \
  -o "$WORK/static" 2>"$WORK/cc2.log" && ok "sample links statically with pkg-config --static from a moved prefix" \
  || bad "static build: $(head -5 "$WORK/cc2.log")"
[ -x "$WORK/static" ] && ! ldd "$WORK/static" | grep -q libcairn && ok "static binary has no libcairn.so dependency" \
  || bad "static binary missing or needs libcairn.so"

# Both samples against the installed Coordinator, set up by the installed CLI.
BIN=$P/bin
start_coordinator A
cli manifest set "$SRC/samples/demo/manifest.json" "$A_CLIENT" -i >/dev/null 2>&1 \
  && ok "installed cli sets the manifest on the installed coordinator" || bad "manifest set"
for v in dyn static; do
  out=$(LD_LIBRARY_PATH="$LIBDIR" "$WORK/$v" "$A_CLIENT" --insecure 2>&1) || true
  if [[ $out == *"status: 3: "*"manifest: "[0-9a-f]* ]]; then ok "$v: status + manifest"; else bad "$v: $out"; fi
done

# DESTDIR staging: files land under DESTDIR/PREFIX, and pkg-config from the
# staged tree points into it (the .pc file does not name the final prefix).
S=$WORK/stage
DESTDIR=$S cmake --install "$BUILD_DIR" --prefix /opt/cairn >"$WORK/install2.log" 2>&1 \
  && [ -x "$S/opt/cairn/bin/cairn-coordinator" ] && ok "DESTDIR=... --prefix /opt/cairn stages under DESTDIR" \
  || bad "DESTDIR install: $(tail -5 "$WORK/install2.log")"
export PKG_CONFIG_PATH=$(dirname "$(find "$S" -name cairn.pc)")
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC/samples/libcairn/activate.c" $(pkg-config --cflags --libs cairn) \
  -o "$WORK/activate" 2>"$WORK/cc3.log" && ok "activate sample builds against the staged tree" \
  || bad "staged build: $(head -5 "$WORK/cc3.log")"
finish
