#!/usr/bin/env bash
# install_destdir: `make install DESTDIR=...` stages everything a package
# needs (binary, plugins, ABI header, pkg-config file, man pages, systemd
# unit, bash completion, examples); the installed binary looks for plugins
# where they were installed, loads the installed plugins, checks the
# installed example config and carries traffic as a daemon; a plugin built
# out of tree from the example in warren-plugin(7), against the installed
# header through the installed pkg-config file, is accepted by `warren
# plugins --plugin-dir` and checks its own keys; `make uninstall` leaves no
# file behind.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v cc >/dev/null || skip "no C compiler (cc)"
command -v pkg-config >/dev/null || skip "pkg-config is not installed"
BUILDDIR=$(cd "$(dirname "$WARREN_BIN")/.." && pwd)
[[ -f $BUILDDIR/Makefile ]] || fail "no Makefile in $BUILDDIR (derived from WARREN_BIN=$WARREN_BIN)"
DEST="$TEST_DIR/root"

# make ARGS...: make in the build tree, on its own (not a job of the make
# that runs this test).
bmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILDDIR" "$@"
}

step "make install DESTDIR=$DEST"
# Only the NAME='DIR' lines: a make that regenerates something first prints
# more than those.
bmake print-install-dirs | grep -E "^[a-z]+='[^']*'$" >"$TEST_DIR/dirs" || true
cat "$TEST_DIR/dirs"
bindir='' libdir='' includedir='' pluginsdir='' mandir='' docdir=''
systemdsystemunitdir='' bashcompletiondir=''
# shellcheck source=/dev/null # NAME='DIR' lines from the Makefile
. "$TEST_DIR/dirs"
[[ -n $bindir && -n $pluginsdir && -n $systemdsystemunitdir ]] ||
	fail "make print-install-dirs did not name the folders: $(cat "$TEST_DIR/dirs")"
bmake install DESTDIR="$DEST" >"$TEST_DIR/install.log" 2>&1 ||
	fail "make install failed: $(tail -n 20 "$TEST_DIR/install.log")"
W="$DEST$bindir/warren"
for f in "$W" "$DEST$pluginsdir/relay.so" "$DEST$includedir/warren/warren-plugin.h" \
	"$DEST$libdir/pkgconfig/warren-plugin.pc" "$DEST$mandir/man1/warren.1" \
	"$DEST$mandir/man5/warren.conf.5" "$DEST$mandir/man7/warren-plugin.7" \
	"$DEST$systemdsystemunitdir/warren.service" "$DEST$bashcompletiondir/warren" \
	"$DEST$docdir/examples/warren.conf" "$DEST$docdir/examples/relay.conf"; do
	[[ -f $f ]] || fail "make install did not install $f"
done
find "$DEST" -type f | sed "s|^$DEST||" | sort
assert_contains "$(grep '^ExecStart=' "$DEST$systemdsystemunitdir/warren.service")" "$bindir/warren daemon" \
	"the unit's ExecStart"
assert_contains "$(grep '^ExecReload=' "$DEST$systemdsystemunitdir/warren.service")" "$bindir/warren reload" \
	"the unit's ExecReload"
assert_contains "$(cat "$DEST$mandir/man1/warren.1")" "$pluginsdir" "warren(1)'s plugin directory"

step "the installed binary's default plugin directory is where the plugins went"
expect_rc 0 env -u WARREN_PLUGIN_DIR WARREN_CONFIG="$TEST_DIR/none.conf" "$W" plugins
echo "$OUT"
assert_eq "$(head -n 1 <<<"$OUT" | sed -n 's/^plugin directory: \([^ ]*\) .*/\1/p')" "$pluginsdir" \
	"the compiled-in plugin directory"

step "the installed plugins, loaded by the installed binary"
expect_rc 0 "$W" plugins --plugin-dir "$DEST$pluginsdir"
echo "$OUT"
assert_match "$OUT" $'(^|\n)relay +1 +[0-9]' "relay in warren plugins"
[[ $OUT != *refused* ]] || fail "an installed plugin was refused: $OUT"

step "warren check on the installed examples"
for ex in warren.conf relay.conf; do
	expect_rc 0 "$W" check -c "$DEST$docdir/examples/$ex" --plugin-dir "$DEST$pluginsdir"
	echo "$OUT"
done

step "the installed binary runs a tunnel with the installed relay plugin"
start_echo_server echo
P1=$(free_port)
relay_tunnel web "$P1" "$SERVER_PORT" >"$CONF"
WARREN_BIN=$W WARREN_TEST_PLUGIN_DIR="$DEST$pluginsdir" start_daemon "$CONF"
wait_state web up
echo_check "$P1"
stop_daemon
assert_eq "$EXIT_RC" 0 "the installed daemon's exit status"

step "a plugin built out of tree from warren-plugin(7)'s example"
PLUG="$TEST_DIR/plugins"
mkdir -m 755 "$PLUG"
# The first example of BUILDING OUT OF TREE, roff escapes undone.
awk '/^\.SH "BUILDING OUT OF TREE"/ { sec = 1 } sec && /^\.EE/ { exit } sec && ex { print } sec && /^\.EX/ { ex = 1 }' \
	"$DEST$mandir/man7/warren-plugin.7" |
	sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\e/\\/g' >"$TEST_DIR/hello.c"
grep -q 'WARREN_PLUGIN_ENTRY' "$TEST_DIR/hello.c" || fail "no plugin example found in warren-plugin(7)"
export PKG_CONFIG_PATH="$DEST$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$DEST"
CFLAGS_PC=$(pkg-config --cflags warren-plugin)
echo "pkg-config --cflags warren-plugin: $CFLAGS_PC"
assert_contains "$CFLAGS_PC" "-I$DEST$includedir/warren" "the installed pkg-config file's -I"
# pkgconf puts the sysroot in front of path variables too.
assert_eq "$(pkg-config --variable=pluginsdir warren-plugin)" "$DEST$pluginsdir" "pkg-config's pluginsdir"
# shellcheck disable=SC2086 # CFLAGS_PC is a list of flags
cc -shared -fPIC -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter -Werror $CFLAGS_PC \
	-o "$PLUG/hello.so" "$TEST_DIR/hello.c" 2>"$TEST_DIR/cc.log" ||
	fail "the warren-plugin(7) example does not build: $(cat "$TEST_DIR/cc.log")"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
[[ $(nm -D --defined-only "$PLUG/hello.so" | awk '$2 == "T" { print $3 }') == warren_transport_entry_v1 ]] ||
	fail "hello.so exports more than the entry symbol: $(nm -D --defined-only "$PLUG/hello.so")"
expect_rc 0 "$W" plugins --plugin-dir "$PLUG"
echo "$OUT"
assert_match "$OUT" $'(^|\n)hello +1 +1\\.0 +says hello' "hello in warren plugins"
printf '[tunnel hi]\ntransport = hello\n' >"$TEST_DIR/hello.conf"
expect_rc 0 "$W" check -c "$TEST_DIR/hello.conf" --plugin-dir "$PLUG"
printf '[tunnel hi]\ntransport = hello\ncolour = blue\n' >"$TEST_DIR/hello-bad.conf"
expect_rc 2 "$W" check -c "$TEST_DIR/hello-bad.conf" --plugin-dir "$PLUG"
assert_contains "$ERR" "$TEST_DIR/hello-bad.conf:3: unknown key 'colour'" "the plugin's own config error"

step "make uninstall leaves no file"
bmake uninstall DESTDIR="$DEST" >>"$TEST_DIR/install.log" 2>&1 || fail "make uninstall failed"
LEFT=$(find "$DEST" -type f)
[[ -z $LEFT ]] || fail "make uninstall left files behind:
$LEFT"

pass "make install stages a working warren, its plugins, docs, unit and completion; out-of-tree plugins build against it"
