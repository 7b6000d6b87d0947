#!/usr/bin/env bash
# ssh_faults: three faults, each seen as a clear state with its reason in
# `warren status`, and each recovered from by itself once it clears:
#  - a gateway that refuses tcpip-forward (sshd AllowTcpForwarding local):
#    the -R forward is `failed` with the gateway's refusal, the tunnel
#    `degraded`, its -L forward works; sshd back with forwarding allowed:
#    the tunnel is `up` and the -R port carries data.
#  - DNS failure for the gateway host: a .invalid name (RFC 2606), resolved
#    in a private mount namespace where /etc/hosts and /etc/nsswitch.conf are
#    the test's own (hosts: files, so no query leaves the machine): the
#    tunnel is `retrying` with the name and the resolver's reason; the name
#    added to that hosts file: the tunnel comes up by itself.
#  - the destination refusing connections: the client is closed, the forward
#    still listens, its last_error says the gateway's connect was refused;
#    a server started on the port: data flows and last_error is cleared.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

[[ $(id -u) == 0 ]] || skip "needs root for a private mount namespace (/etc/hosts)"
command -v unshare >/dev/null || skip "unshare is not installed (util-linux)"
unshare -m --propagation private true 2>/dev/null || skip "cannot make a mount namespace here"

BADHOST=gw.warren-test.invalid
printf '127.0.0.1 localhost\n::1 localhost\n' >"$TEST_DIR/hosts"
echo "hosts: files" >"$TEST_DIR/nsswitch.conf"
# The daemon, and only it, sees these two files (common.sh's start_daemon
# runs "${DAEMON_WRAP[@]}" before the binary; valgrind, if asked, stays in).
# shellcheck disable=SC2016 # expanded by the inner sh
DAEMON_WRAP=(unshare -m --propagation private sh -c
	'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"'
	"$TEST_DIR/hosts" "$TEST_DIR/nsswitch.conf" "${DAEMON_WRAP[@]}")

start_sshd "Match all" "AllowTcpForwarding local"
known_hosts_line "$SSHD_PORT" | sed "s/^\[127.0.0.1\]/[$BADHOST]/" >>"$KNOWN_HOSTS"
start_xfer_server sink
SINK=$SERVER_PORT
LPORT=$(free_port)
RPORT=$(free_port)
DPORT=$(free_port)
CPORT=$(free_port)
CLOSED=$(free_port)
{
	gateway_section gw
	gateway_section gwdns "host = $BADHOST"
	cat <<EOF
[tunnel fwd]
transport = ssh-forward
gateway = gw
retry_min = 1s
retry_max = 2s
local = $LPORT:127.0.0.1:$SINK
remote = $RPORT:127.0.0.1:$SINK

[tunnel dns]
transport = ssh-forward
gateway = gwdns
retry_min = 1s
retry_max = 2s
local = $DPORT:127.0.0.1:$SINK

[tunnel dest]
transport = ssh-forward
gateway = gw
retry_min = 1s
retry_max = 2s
local = $CPORT:127.0.0.1:$CLOSED
EOF
} >"$CONF"
start_daemon "$CONF"

step "tcpip-forward refused: the -R forward failed with the reason, the tunnel degraded, -L works"
wait_state fwd degraded 20
assert_eq "$(forward_get fwd 1 state)" failed "remote forward state"
err=$(forward_get fwd 1 last_error)
assert_match "$err" "forwarding failed.*not permitted" "remote forward reason"
assert_contains "$(tunnel_get fwd last_error)" "$RPORT" "tunnel reason names the forward"
echo "remote forward: $err"
xfer "$LPORT" --bytes 256K --mode duplex --conns 2 --timeout 20 --max-seconds 60

step "DNS failure: the tunnel is retrying with the name and the reason"
wait_state dns retrying 20
err=$(tunnel_get dns last_error)
assert_contains "$err" "$BADHOST" "dns reason names the host"
assert_match "$err" "resolve|Name or service not known|not known|No address" "dns reason"
echo "dns: $err"
port_listening "$DPORT" && fail "the dns tunnel listens on $DPORT while its gateway has no address"

step "destination refusing: the client is closed, the forward still listens and says why"
wait_state dest up 20
python3 - "$CPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    d = s.recv(100)
except ConnectionResetError:
    d = b""
assert d == b"", "got %r from a refused destination" % d
print("client closed without data")
PY
wait_for "[[ \$(forward_get dest 0 last_error) != null ]]" 10 || fail "no last_error for the refused destination"
err=$(forward_get dest 0 last_error)
assert_match "$err" "[Rr]efused|[Cc]onnect" "destination reason"
assert_eq "$(forward_get dest 0 state)" listening "forward state"
assert_eq "$(tunnel_get dest state)" up "tunnel state"
echo "destination: $err"

step "the destination starts listening: data flows, last_error cleared"
spawn "$TEST_DIR/dest.log" python3 "$TOOLS/xfer_server.py" --port "$CLOSED" --port-file "$TEST_DIR/dest.port" --log "$TEST_DIR/dest.log"
wait_for "[[ -s '$TEST_DIR/dest.port' ]]" 10 || fail "destination server did not start"
xfer "$CPORT" --bytes 256K --mode duplex --conns 2 --timeout 20 --max-seconds 60
assert_eq "$(forward_get dest 0 last_error)" null "last_error after recovery"

step "the name resolves now: the dns tunnel comes up by itself"
echo "127.0.0.1 $BADHOST" >>"$TEST_DIR/hosts" # same inode: the bind mount sees it
wait_state dns up 20
xfer "$DPORT" --bytes 256K --mode duplex --conns 2 --timeout 20 --max-seconds 60

step "sshd back with forwarding allowed: the tunnel comes up, -R carries data"
stop_sshd
start_sshd
wait_state fwd up 30
assert_eq "$(forward_get fwd 1 state)" listening "remote forward state"
assert_eq "$(forward_get fwd 1 last_error)" null "remote forward error cleared"
xfer "$RPORT" --bytes 256K --mode duplex --conns 2 --timeout 20 --max-seconds 60
xfer "$LPORT" --bytes 256K --mode duplex --conns 2 --timeout 20 --max-seconds 60
for f in sink dest; do
	if grep -q FAIL "$TEST_DIR/$f.log"; then
		fail "server $f saw a failure: $(grep FAIL "$TEST_DIR/$f.log" | head -3)"
	fi
done
pass "tcpip-forward refused, DNS failure, destination refused: each stated with its reason and recovered"
