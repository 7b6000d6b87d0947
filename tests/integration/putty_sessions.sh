#!/usr/bin/env bash
# putty_sessions: PuTTY saved sessions, as PuTTY writes them in its sessions
# folder ($PUTTYSESSIONS here). `warren import-putty` prints sections that
# `warren check` accepts with the real ssh-forward plugin, reports a telnet
# session it cannot carry and a session that does not exist (exit 1), and
# `warren run --putty SESSION` carries data through the session's local
# forward over a real sshd, stops cleanly on SIGINT and leaves no temporary
# config behind.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

# shellcheck disable=SC2119 # no extra sshd_config lines
start_sshd
start_echo_server echo
LPORT=$(free_port)
SESSIONS="$TEST_DIR/putty/sessions"
mkdir -p "$SESSIONS"
export PUTTYSESSIONS=$SESSIONS
# The gateway from a session trusts ~/.ssh/known_hosts, as PuTTY trusts its
# own host key cache: give this test a home of its own.
export HOME="$TEST_DIR/home"
mkdir -p "$HOME/.ssh"
cp "$KNOWN_HOSTS" "$HOME/.ssh/known_hosts"

# As PuTTY 0.78 saves them (a selection of its keys), CRLF and all.
printf '%s\r\n' "Present=1" "HostName=127.0.0.1" "Protocol=ssh" "PortNumber=$SSHD_PORT" \
	"PingInterval=0" "PingIntervalSecs=5" "Compression=0" "TryAgent=0" "AgentFwd=0" \
	"UserName=$(id -un)" "PublicKeyFile=$USER_KEY" "RemoteCommand=" "X11Forward=0" \
	"LocalPortAcceptAll=0" "RemotePortAcceptAll=0" \
	"PortForwardings=L$LPORT=127.0.0.1:$SERVER_PORT,D$(free_port)" \
	>"$SESSIONS/Tunnel%20to%20my%20echo%20server"
printf '%s\n' "HostName=bbs.example.org" "Protocol=telnet" "PortNumber=23" >"$SESSIONS/old%20bbs"
printf '%s\n' "HostName=" >"$SESSIONS/Default%20Settings"

step "import-putty: every session"
expect_rc 0 "$WARREN_BIN" import-putty
echo "$OUT"
echo "$ERR"
assert_contains "$OUT" "[tunnel Tunnel-to-my-echo-server]" "the converted session"
assert_contains "$OUT" "local = $LPORT:127.0.0.1:$SERVER_PORT" "the local forward"
assert_contains "$OUT" "keepalive = 5s" "the keepalive"
assert_contains "$ERR" "'old bbs': it uses telnet" "the report on the telnet session"
assert_contains "$OUT" "# PuTTY session \"old bbs\": it uses telnet" "the telnet session's comment"
[[ $OUT != *"Default Settings"* ]] || fail "PuTTY's Default Settings template was imported"
echo "$OUT" >"$TEST_DIR/imported.conf"
expect_rc 0 "$WARREN_BIN" check -c "$TEST_DIR/imported.conf"

step "import-putty: named sessions"
expect_rc 0 "$WARREN_BIN" import-putty "Tunnel to my echo server"
[[ $OUT != *bbs* ]] || fail "import of one session printed another"
expect_rc 1 "$WARREN_BIN" import-putty "no such session"
assert_contains "$ERR" "no%20such%20session" "the message for a missing session"
expect_rc 1 "$WARREN_BIN" import-putty "old bbs"
expect_rc 2 "$WARREN_BIN" import-putty --bogus

step "run --putty: the session's forward over a real sshd"
before=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'warren-putty-*' | sort)
spawn "$DAEMON_LOG" "$WARREN_BIN" run --putty "Tunnel to my echo server" -v
RUN_PID=$SPAWNED_PID
wait_for "port_open $LPORT" 20 || fail "the session's local forward never opened"
echo_check "$LPORT"
kill -INT "$RUN_PID"
wait_exit "$RUN_PID" 10 || fail "warren run --putty still runs 10 s after SIGINT"
assert_eq "$EXIT_RC" 0 "warren run --putty's exit status after SIGINT"
after=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'warren-putty-*' | sort)
assert_eq "$after" "$before" "temporary config folders left behind"
expect_rc 2 "$WARREN_BIN" run --putty "old bbs"
expect_rc 2 "$WARREN_BIN" run --putty "Tunnel to my echo server" extra

pass "import-putty converts and reports; run --putty runs a session's forwards like putty -load"
