#!/usr/bin/env bash
# cli_usage: the CLI's surface: `warren --help` and every subcommand's --help
# exit 0; an unknown subcommand or option exits 2; `warren version` prints the
# version from configure.ac; `warren plugins --plugin-dir DIR` lists relay
# with its ABI and version; `warren status` with no daemon exits 1 with a
# message naming the socket, whether it is given by -S before or after the
# subcommand or by WARREN_SOCKET.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

W=("$WARREN_BIN")

# x11 and import-putty arrive with the SSH transports: checked once --help lists them.
SUBS=(daemon run check status up down restart reload plugins version)
LATER=(x11 import-putty)

step "warren --help"
expect_rc 0 "${W[@]}" --help
for sub in "${SUBS[@]}"; do
	assert_match "$OUT" "(^|[^a-z-])$sub([^a-z-]|\$)" "warren --help mentions $sub"
done
for sub in "${LATER[@]}"; do
	if [[ $OUT =~ (^|[^a-z-])$sub([^a-z-]|$) ]]; then
		SUBS+=("$sub")
	else
		echo "(warren --help does not list $sub yet)"
	fi
done

step "every subcommand's --help"
for sub in "${SUBS[@]}"; do
	expect_rc 0 "${W[@]}" "$sub" --help
	[[ -n $OUT ]] || fail "warren $sub --help printed nothing on stdout"
done

step "usage errors exit 2"
expect_rc 2 "${W[@]}" frobnicate
[[ -n $ERR ]] || fail "warren frobnicate printed no message on stderr"
expect_rc 2 "${W[@]}" status --no-such-option
expect_rc 2 "${W[@]}"

step "warren version"
VERSION=$(sed -n 's/^AC_INIT(\[warren\], *\[\([^]]*\)\].*/\1/p' "$WARREN_TESTS_DIR/../configure.ac")
[[ -n $VERSION ]] || fail "could not read the version from configure.ac"
expect_rc 0 "${W[@]}" version
assert_contains "$OUT" "$VERSION" "warren version"

step "warren plugins --plugin-dir"
expect_rc 0 "${W[@]}" plugins --plugin-dir "$WARREN_TEST_PLUGIN_DIR"
echo "$OUT"
RELAY=$(grep -w relay <<<"$OUT" || true)
[[ -n $RELAY ]] || fail "relay not listed by warren plugins"
# ABI 1 and a version number on relay's line (e.g. "relay  1  0.1.0  .../relay.so").
assert_match "$RELAY" '(^|[^0-9.])1([^0-9.]|$)' "relay's ABI in warren plugins"
assert_match "$RELAY" '[0-9]+\.[0-9]+' "relay's version in warren plugins"
expect_rc 0 env -u WARREN_PLUGIN_DIR "${W[@]}" --plugin-dir "$WARREN_TEST_PLUGIN_DIR" plugins
grep -qw relay <<<"$OUT" || fail "--plugin-dir before the subcommand: relay not listed"

step "warren status with no daemon"
[[ ! -e $SOCK ]] || fail "$SOCK exists before any daemon started"
expect_rc 1 "${W[@]}" status -S "$SOCK"
assert_contains "$ERR" "$SOCK" "status with no daemon (-S after the subcommand)"
expect_rc 1 "${W[@]}" -S "$SOCK" status
assert_contains "$ERR" "$SOCK" "status with no daemon (-S before the subcommand)"
expect_rc 1 env WARREN_SOCKET="$SOCK" "${W[@]}" status --json
assert_contains "$ERR" "$SOCK" "status with no daemon (WARREN_SOCKET)"

pass "help, usage errors, version, plugins and status without a daemon behave as documented"
