#!/usr/bin/env bash
# ssh_churn: 1000 connections open at all times for 60 s through one -L
# forward of one SSH connection, each opening, sending 0-32 KB, reading the
# echo to EOF and closing, then the next (tests/tools/churn.py): every byte
# compared, nothing lost, duplicated or corrupted; the tunnel stays up
# (no restart); the echo server saw every connection whole; afterwards the
# daemon has exactly the fds it had before (/proc/PID/fd) and no connection
# left. WARREN_CHURN_SECONDS shortens the run (at most 60).
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

SECS=${WARREN_CHURN_SECONDS:-60}
CONNS=1000
# 1000 client sockets in the daemon, as many in the client and the server.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 2 * CONNS + 100)) || skip "open file limit $(ulimit -n) is too low for $CONNS connections"

start_sshd
spawn "$TEST_DIR/echo.log" python3 "$TOOLS/churn.py" serve --port-file "$TEST_DIR/echo.port" --log "$TEST_DIR/echo.log"
ECHO_PID=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/echo.port' ]]" 10 || fail "churn server did not start"
EPORT=$(<"$TEST_DIR/echo.port")
LPORT=$(free_port)
{
	gateway_section gw
	cat <<EOF
[tunnel churn]
transport = ssh-forward
gateway = gw
local = $LPORT:127.0.0.1:$EPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state churn up 20
fd_count() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
BASE_FD=$(fd_count)
echo "daemon: $BASE_FD fds before"

step "$CONNS concurrent connections opening and closing for $SECS s, every byte checked"
python3 "$TOOLS/churn.py" client --port "$LPORT" --conns "$CONNS" --seconds "$SECS" \
	--max-bytes 32768 --timeout 30 --report "$TEST_DIR/churn.report" ||
	fail "churn client failed"
read -r DONE PEAK UP DOWN <"$TEST_DIR/churn.report"
((PEAK >= CONNS * 9 / 10)) || fail "only $PEAK connections were open at once"

step "the tunnel never restarted, every connection closed, no fd left behind"
assert_eq "$(tunnel_get churn state)" up "state"
assert_eq "$(tunnel_get churn restarts)" 0 "restarts"
wait_for "[[ \$(forward_get churn 0 connections) == 0 ]]" 20 || fail "connections left: $(tunnel_get churn)"
wait_for "(( \$(fd_count) == $BASE_FD ))" 20 || fail "fd leak: $(fd_count) open, $BASE_FD before"
echo "daemon: $(fd_count) fds after"
kill -TERM "$ECHO_PID"
wait_exit "$ECHO_PID" 10 || fail "the churn server did not stop"
grep 'churn server stopped' "$TEST_DIR/echo.log"
if grep -q FAIL "$TEST_DIR/echo.log"; then
	fail "the echo server saw broken connections: $(grep FAIL "$TEST_DIR/echo.log" | head -5)"
fi
pass "$DONE connections ($CONNS at once, peak $PEAK) in $SECS s, $UP bytes up and $DOWN down, all intact; fds $BASE_FD -> $BASE_FD"
