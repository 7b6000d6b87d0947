#!/usr/bin/env bash
# ssh_dynamic: a dynamic forward (-D) through a real sshd serves SOCKS 4a
# and 5 with names resolved at the gateway (curl --socks4a and
# --socks5-hostname fetch a page by the name "localhost"); 10 MB each way
# and 200 concurrent connections through SOCKS 4a arrive intact; unsupported
# commands, refused targets and garbage get the protocol's error reply and
# are closed alone while another SOCKS connection keeps working.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"

command -v curl >/dev/null || skip "curl is not installed"
command -v socat >/dev/null || skip "socat is not installed"

start_sshd
start_xfer_server sink
XPORT=$SERVER_PORT
mkdir -p "$TEST_DIR/www"
echo "hello through socks" >"$TEST_DIR/www/index.html"
HPORT=$(free_port)
spawn "$TEST_DIR/http.log" python3 -m http.server --bind 127.0.0.1 --directory "$TEST_DIR/www" "$HPORT"
wait_for "port_open $HPORT" 10 || fail "http server did not start"
DPORT=$(free_port)
CLOSED=$(free_port)
{
	gateway_section gw
	cat <<EOF
[tunnel socks]
transport = ssh-forward
gateway = gw
autostart = yes
dynamic = $DPORT
EOF
} >"$CONF"
start_daemon "$CONF"
wait_state socks up 20
assert_eq "$(forward_get socks 0 bound)" "127.0.0.1:$DPORT" "bound"

step "curl --socks4a and --socks5-hostname, the name resolved at the gateway"
out=$(curl -sS --max-time 20 --socks4a "127.0.0.1:$DPORT" "http://localhost:$HPORT/index.html")
assert_eq "$out" "hello through socks" "socks4a page"
out=$(curl -sS --max-time 20 --socks5-hostname "127.0.0.1:$DPORT" "http://localhost:$HPORT/index.html")
assert_eq "$out" "hello through socks" "socks5-hostname page"
out=$(curl -sS --max-time 20 --socks5 "127.0.0.1:$DPORT" "http://127.0.0.1:$HPORT/index.html")
assert_eq "$out" "hello through socks" "socks5 (address) page"

step "10 MB each way and 200 concurrent connections through SOCKS 4a (socat adapter)"
APORT=$(free_port)
# -t 30: socat ends both directions 0.5 s after the first EOF by default,
# which cuts the reply short when the daemon is slow (valgrind).
spawn "$TEST_DIR/socat.log" socat -t 30 "TCP-LISTEN:$APORT,bind=127.0.0.1,reuseaddr,fork,backlog=512" \
	"SOCKS4A:127.0.0.1:localhost:$XPORT,socksport=$DPORT"
wait_for "port_listening $APORT" 10 || fail "socat did not start"
xfer "$APORT" --bytes 10M --mode duplex --conns 1 --timeout 60 --max-seconds 120
xfer "$APORT" --bytes 1M --mode after-eof --conns 1 --timeout 30 --max-seconds 60
xfer "$APORT" --bytes 64K --mode duplex --conns 200 --timeout 60 --max-seconds 120

step "bad requests get the protocol's error reply and only they are closed"
python3 - "$DPORT" "$CLOSED" "$HPORT" <<'PY'
import socket, struct, sys
dport, closed, hport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

def conn():
    s = socket.create_connection(("127.0.0.1", dport), timeout=15)
    return s

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            break
        b += d
    return b

def expect_closed(s, what):
    try:
        d = s.recv(100)
    except ConnectionResetError:
        d = b""
    assert d == b"", "%s: connection not closed (got %r)" % (what, d)

# A healthy connection opened first must survive everything below.
keep = conn()
keep.sendall(b"\x05\x01\x00")
assert recv_exact(keep, 2) == b"\x05\x00"
keep.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", hport))
r = recv_exact(keep, 10)
assert r[:2] == b"\x05\x00", "keep: reply %r" % r

# SOCKS5 BIND: command not supported (07)
s = conn(); s.sendall(b"\x05\x01\x00"); assert recv_exact(s, 2) == b"\x05\x00"
s.sendall(b"\x05\x02\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", hport))
r = recv_exact(s, 10); assert r[:2] == b"\x05\x07", "bind: reply %r" % r; expect_closed(s, "bind")
# SOCKS5 unknown address type: 08
s = conn(); s.sendall(b"\x05\x01\x00"); assert recv_exact(s, 2) == b"\x05\x00"
s.sendall(b"\x05\x01\x00\x09" + b"\x00" * 6)
r = recv_exact(s, 10); assert r[:2] == b"\x05\x08", "atyp: reply %r" % r; expect_closed(s, "atyp")
# SOCKS5 only with authentication: no acceptable method (FF)
s = conn(); s.sendall(b"\x05\x01\x02")
r = recv_exact(s, 2); assert r == b"\x05\xff", "auth: reply %r" % r; expect_closed(s, "auth")
# SOCKS5 CONNECT to a closed port: refused by the gateway (05)
s = conn(); s.sendall(b"\x05\x01\x00"); assert recv_exact(s, 2) == b"\x05\x00"
s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", closed))
r = recv_exact(s, 10); assert r[:2] == b"\x05\x05", "refused: reply %r" % r; expect_closed(s, "refused")
# SOCKS4 CONNECT to a closed port: rejected (91)
s = conn(); s.sendall(b"\x04\x01" + struct.pack(">H", closed) + socket.inet_aton("127.0.0.1") + b"u\x00")
r = recv_exact(s, 8); assert r[1] == 91, "socks4 refused: reply %r" % r; expect_closed(s, "socks4")
# SOCKS4 BIND: rejected (91)
s = conn(); s.sendall(b"\x04\x02" + struct.pack(">H", hport) + socket.inet_aton("127.0.0.1") + b"u\x00")
r = recv_exact(s, 8); assert r[1] == 91, "socks4 bind: reply %r" % r; expect_closed(s, "socks4 bind")
# Garbage: closed without a reply
s = conn(); s.sendall(b"GET / HTTP/1.0\r\n\r\n"); expect_closed(s, "garbage")

# The healthy one still works.
keep.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    d = keep.recv(65536)
    if not d:
        break
    data += d
assert b"hello through socks" in data, "keep: %r" % data[:200]
print("socks error replies OK")
PY

if grep -q FAIL "$TEST_DIR/sink.log"; then
	fail "the server saw a failure: $(grep FAIL "$TEST_DIR/sink.log" | head -5)"
fi
pass "-D: SOCKS 4a/5 by name, 10 MB each way, 200 concurrent, error replies per protocol"
