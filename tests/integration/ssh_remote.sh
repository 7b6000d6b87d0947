#!/usr/bin/env bash
# ssh_remote: a remote forward (-R) through a real sshd: port 0 makes the
# gateway pick a port, which status reports; 10 MB each way and 200
# concurrent connections arrive intact at the local service; a second
# forward whose port the gateway cannot bind (in use there) is `failed` with
# the reason while the tunnel is degraded and the first forward works, and
# binds by itself once the port is freed.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

start_sshd
start_xfer_server sink
BUSY=$(free_port)
# Something else holds BUSY on the gateway's side (the same host here).
spawn "$TEST_DIR/holder.log" python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").write("ready")
time.sleep(600)' "$BUSY" "$TEST_DIR/holder.ready"
HOLDER=$SPAWNED_PID
wait_for "[[ -s '$TEST_DIR/holder.ready' ]]" 10 || fail "port holder did not start"
{
	gateway_section gw
	cat <<EOF
[tunnel rev]
transport = ssh-forward
gateway = gw
autostart = yes
remote = 0:127.0.0.1:$SERVER_PORT
remote = 127.0.0.1:$BUSY:127.0.0.1:$SERVER_PORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state rev degraded 20

step "port 0: the gateway's port is in status"
assert_eq "$(forward_get rev 0 state)" listening "forward 0 state"
BOUND=$(forward_get rev 0 bound)
assert_match "$BOUND" '^localhost:[0-9]+$' "forward 0 bound"
RPORT=${BOUND##*:}
[[ $RPORT != 0 ]] || fail "allocated port is 0"
assert_eq "$(forward_get rev 1 state)" failed "forward 1 state"
assert_contains "$(forward_get rev 1 last_error)" "remote port forwarding failed for listen port $BUSY" "forward 1 error"
assert_contains "$(tunnel_get rev last_error)" "$BUSY" "tunnel last_error"

step "10 MB each way through the gateway's port"
xfer "$RPORT" --bytes 10M --mode duplex --conns 1 --timeout 60 --max-seconds 120
xfer "$RPORT" --bytes 1M --mode after-eof --conns 1 --timeout 30 --max-seconds 60
xfer "$RPORT" --bytes 1M --mode server-first --conns 1 --timeout 30 --max-seconds 60

step "200 concurrent connections, 64 KB each way"
xfer "$RPORT" --bytes 64K --mode duplex --conns 200 --timeout 60 --max-seconds 120

step "the busy port is freed: the failed forward binds by itself (retry with backoff)"
kill -TERM "$HOLDER"
wait_exit "$HOLDER" 5 || fail "port holder still running"
wait_state rev up 40
assert_eq "$(forward_get rev 1 bound)" "127.0.0.1:$BUSY" "forward 1 bound"
xfer "$BUSY" --bytes 1M --mode duplex --conns 1 --timeout 30 --max-seconds 60

if grep -q FAIL "$TEST_DIR/sink.log"; then
	fail "the server saw a failure: $(grep FAIL "$TEST_DIR/sink.log" | head -5)"
fi
pass "-R: port 0 reported, 10 MB each way, 200 concurrent, refused forward retried until bound"
