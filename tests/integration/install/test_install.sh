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
         share/bash-completion/completions/cairn share/zsh/vendor-completions/_cairn \
         share/fish/vendor_completions.d/cairn.fish lib/systemd/system/cairn-coordinator.service \
         share/doc/cairn/README.md share/doc/cairn/LICENSE share/doc/cairn/building.md share/doc/cairn/coordinator.md; do
  [ -e "$P/$f" ] || missing+=" $f"
done
[ -z "$missing" ] && ok "programs, libcairn (shared, static), headers, completion, unit, docs installed" \
  || bad "not installed:$missing"
# Every URL of the unit's Documentation= names a doc that is installed.
docs=$(sed -n 's|^Documentation=||p' "$P/lib/systemd/system/cairn-coordinator.service" 2>/dev/null || true)
ndoc=0
for u in $docs; do
  ndoc=$((ndoc + 1))
  d=${u#file:///usr/}
  [ "$d" != "$u" ] && [ -f "$P/$d" ] && ok "unit Documentation= names an installed file ($d)" \
    || bad "unit Documentation= $u is not an installed file"
done
[ "$ndoc" -gt 0 ] || bad "the unit has no Documentation="

# The installed programs run from the prefix alone.
"$P/bin/cairn" --help >"$WORK/help.out" 2>&1 && grep -q "manifest" "$WORK/help.out" \
  && ok "installed cairn --help" || bad "cairn --help: $(head -3 "$WORK/help.out")"
for prog in cairn cairn-coordinator cairn-premain; do
  if [ ! -x "$P/bin/$prog" ]; then bad "$prog not installed"
  elif grep -Eq "not found|$BUILD_DIR" <<<"$(ldd "$P/bin/$prog")"; then bad "$prog needs the build tree: $(ldd "$P/bin/$prog" | grep -E "not found|$BUILD_DIR")"
  else ok "$prog: every library resolves outside the build tree"; fi
done
# bash completion loads, registers `cairn` and completes; the installed files
# are what the installed CLI generates (built from its command table).
bash -c "source '$P/share/bash-completion/completions/cairn' && complete -p cairn" >"$WORK/compl.out" 2>&1 \
  && ok "completion registers: $(cat "$WORK/compl.out")" || bad "completion: $(cat "$WORK/compl.out")"
out=$(bash -c "source '$P/share/bash-completion/completions/cairn'; COMP_WORDS=(cairn manifest ch); COMP_CWORD=2; _cairn; echo \${COMPREPLY[*]}" 2>&1)
[ "$out" = check ] && ok "installed bash completion completes (cairn manifest ch -> check)" || bad "installed completion: $out"
for s in bash:cairn zsh:_cairn fish:cairn.fish; do
  f=$(find "$P/share" -name "${s#*:}" -path "*${s%%:*}*" | head -1)
  cmp -s "$f" <("$P/bin/cairn" completion "${s%%:*}") && ok "installed ${s%%:*} completion = \`cairn completion ${s%%:*}\`" \
    || bad "installed ${s%%:*} completion ($f) differs from the CLI's"
done

# pkg-config from the installed prefix only.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
inc=$(pkg-config --variable=includedir cairn)
[ "$(cd "$inc" 2>/dev/null && pwd)" = "$P/include" ] && ok "cairn.pc includedir is the install prefix" \
  || bad "cairn.pc includedir=$inc (prefix $P)"
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$SRC/samples/libcairn/coordinator-status.c" $(pkg-config --cflags --libs cairn) \
  -o "$WORK/dyn" 2>"$WORK/cc.log" && ok "sample builds with pkg-config --cflags --libs cairn" \
  || bad "shared build: $(head -5 "$WORK/cc.log")"
grep -q "libcairn.so.0 => $LIBDIR/" <<<"$(LD_LIBRARY_PATH=$LIBDIR ldd "$WORK/dyn")" \
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
[ -x "$WORK/static" ] && ! grep -q libcairn <<<"$(ldd "$WORK/static")" && ok "static binary has no libcairn.so dependency" \
  || bad "static binary missing or needs libcairn.so"

# libcairn.a exports only the public API (libcairn.map), like libcairn.so:
# an application may use names libcairn uses inside (cc_*, trust_files_*).
extra=$(nm -g --defined-only "$M/${LIBDIR#"$P"/}/libcairn.a" | awk 'NF==3 {print $3}' | grep -v '^cairn_' || true)
n=$(nm -g --defined-only "$M/${LIBDIR#"$P"/}/libcairn.a" | awk 'NF==3 {print $3}' | grep -c '^cairn_' || true)
[ -z "$extra" ] && [ "$n" -ge 20 ] && ok "libcairn.a defines only cairn_* globals ($n)" \
  || bad "libcairn.a: $(echo "$extra" | wc -w) other globals: $(echo "$extra" | head -5 | tr '\n' ' ')"
cat >"$WORK/clash.c" <<'C'
/* An application with its own functions named like libcairn internals. */
#include <cairn/cairn.h>
#include <stdio.h>
int cc_chain_verify(void);
int trust_files_new(void);
int cc_chain_verify(void) { return 7; }
int trust_files_new(void) { return 11; }
int main(void) {
  /* Take the library's verification and activation code in (they use its
     own cc_chain_verify and trust_files_new). */
  void (*volatile keep[2])(void) = {(void (*)(void))cairn_coordinator_verify, (void (*)(void))cairn_marble_activate};
  printf("%s own %d %d %d\n", cairn_version(), cc_chain_verify(), trust_files_new(), keep[0] != 0 && keep[1] != 0);
  return 0;
}
C
# shellcheck disable=SC2046
$CC -std=c11 -Wall -Wextra -Werror "$WORK/clash.c" $(pkg-config --static --cflags --libs cairn) -o "$WORK/clash" \
  2>"$WORK/cc4.log" && ok "a program with its own cc_chain_verify/trust_files_new links libcairn.a" \
  || bad "clash link: $(grep -m3 -E 'multiple definition|error' "$WORK/cc4.log")"
out=$("$WORK/clash" 2>&1) || true
[[ $out == [0-9]*" own 7 11 1" ]] && ok "its own functions are called: $out" || bad "clash run: $out"

# Both samples against the installed Coordinator, set up by the installed CLI.
BIN=$P/bin
start_coordinator A
cli manifest set "$SRC/samples/demo/manifest.json" "$A_CLIENT" -i >/dev/null 2>&1 \
  && ok "installed cli sets the manifest on the installed coordinator" || bad "manifest set"
for v in dyn static; do
  out=$(LD_LIBRARY_PATH="$LIBDIR" "$WORK/$v" "$A_CLIENT" --insecure 2>&1) || true
  if [[ $out == *"status: 3: "*"manifest: "[0-9a-f]* ]]; then ok "$v: status + manifest"; else bad "$v: $out"; fi
done

# docs/building.md's install commands, as written, in a tree with build/ and
# samples/ and a temp HOME; their programs then query the Coordinator.
T=$WORK/tree
mkdir -p "$T" "$WORK/home" && ln -s "$BUILD_DIR" "$T/build" && ln -s "$SRC/samples" "$T/samples" \
  && ln -s "$SRC/Makefile" "$T/Makefile"
awk '/<!-- install-commands -->/ {on=1; next} /<!-- \/install-commands -->/ {on=0} on && !/^```/' \
  "$SRC/docs/building.md" >"$WORK/doc.sh"
[ "$(grep -c . "$WORK/doc.sh")" -ge 5 ] && ok "docs/building.md install block: $(grep -c . "$WORK/doc.sh") lines" \
  || bad "install block not found in docs/building.md"
(cd "$T" && env -u PKG_CONFIG_PATH HOME="$WORK/home" bash -euo pipefail "$WORK/doc.sh") >"$WORK/doc.log" 2>&1 \
  && ok "docs/building.md install commands run" || bad "doc commands: $(tail -5 "$WORK/doc.log")"
[ -x "$WORK/home/stage/usr/bin/cairn-coordinator" ] && [ -f "$(find "$WORK/home/stage/usr" -name cairn.pc)" ] \
  && ok "documented make install PREFIX=/usr DESTDIR=... staged the tree" || bad "make install did not stage: $(tail -3 "$WORK/doc.log")"
[ -x "$T/status-static" ] && ! grep -q libcairn <<<"$(ldd "$T/status-static")" \
  && ok "documented static build has no libcairn.so dependency" || bad "documented static build"
for v in status status-static; do
  out=$(LD_LIBRARY_PATH="$WORK/home/.local/lib" "$T/$v" "$A_CLIENT" --insecure 2>&1) || true
  [[ $out == *"status: 3: "*"manifest: "[0-9a-f]* ]] && ok "documented $v works" || bad "documented $v: $out"
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
