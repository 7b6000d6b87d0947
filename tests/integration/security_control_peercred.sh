#!/usr/bin/env bash
# security_control_peercred: the control socket refuses another user by
# its peer credentials (SO_PEERCRED), not only by the socket's mode. The
# socket is made reachable on purpose (its directory searchable, the socket
# chmod 0666) so that the mode no longer protects it; a client run as
# `nobody` then connects and gets "permission denied" (exit 1), the daemon
# logs the refused uid, and nothing it asked for happened; the daemon's own
# user is still served.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

[[ $(id -u) == 0 ]] || skip "needs root to run a client as another user"
command -v setpriv >/dev/null || skip "setpriv is not installed (util-linux)"
NOBODY_UID=$(id -u nobody 2>/dev/null) || skip "no user 'nobody'"
NOBODY_GID=$(id -g nobody)

LPORT=$(free_port)
relay_tunnel web "$LPORT" "$(free_port)" >"$CONF"
start_daemon "$CONF"
wait_state web up 10

step "the socket is 0600 and the directory private: nobody cannot even reach it"
assert_eq "$(stat -c %a "$SOCK")" 600 "socket mode"
# A copy of the client that nobody may run (the build tree may sit in a
# folder nobody cannot enter).
mkdir -m 0755 "$TEST_DIR/bin"
cp "$WARREN_BIN" "$TEST_DIR/bin/warren"
chmod 0755 "$TEST_DIR/bin/warren"
as_nobody() {
	setpriv --reuid="$NOBODY_UID" --regid="$NOBODY_GID" --clear-groups \
		env -i PATH=/usr/bin:/bin HOME=/nonexistent \
		timeout -k 5 20 "$TEST_DIR/bin/warren" -S "$SOCK" "$@"
}
chmod 0711 "$TEST_DIR" # searchable, not listable: nobody can reach the files named below
expect_rc 1 as_nobody status
assert_contains "$ERR" "Permission denied" "socket mode 0600 stops nobody"

step "socket mode opened to 0666: the peer-credential check refuses nobody"
chmod 0666 "$SOCK"
expect_rc 1 as_nobody status
assert_contains "$OUT$ERR" "permission denied: only root or the daemon's user may control it" "refusal"
expect_rc 1 as_nobody down web
assert_contains "$OUT$ERR" "permission denied" "down refused"
expect_rc 1 as_nobody status --json
assert_contains "$OUT$ERR" "permission denied" "status --json refused"
chmod 0700 "$TEST_DIR"
chmod 0600 "$SOCK"

step "the refused requests changed nothing and were logged with the uid"
assert_eq "$(tunnel_get web state)" up "tunnel after nobody's 'down'"
wait_for "grep -q 'control socket: refused uid $NOBODY_UID' '$DAEMON_LOG'" 5 ||
	fail "no 'refused uid $NOBODY_UID' in the daemon log"
expect_rc 0 warren_cli status
pass "control socket: nobody refused by peer credentials with the socket at 0666, root served"
