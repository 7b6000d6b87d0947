#!/usr/bin/env bash
# relay_data: a relay tunnel carries data intact: 10 MB each way at once on
# one connection, then 100 concurrent connections (64 KB each way), every byte
# checked with sha256 at both ends; afterwards the relay holds no connection.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_xfer_server sink
LPORT=$(free_port)
relay_tunnel data "$LPORT" "$SERVER_PORT" >"$CONF"
start_daemon "$CONF"
wait_state data up

step "10 MB each way, both directions at once, one connection"
xfer "$LPORT" --bytes 10M --mode duplex --conns 1 --timeout 30 --max-seconds 120

step "100 concurrent connections, 64 KB each way"
xfer "$LPORT" --bytes 64K --mode duplex --conns 100 --timeout 30 --max-seconds 120

step "the server saw 101 intact connections and no failure"
wait_for "[[ \$(grep -c ': OK duplex' '$TEST_DIR/sink.log') == 101 ]]" 10 ||
	fail "expected 101 OK connections in the server log, got $(grep -c ': OK duplex' "$TEST_DIR/sink.log")"
if grep -q FAIL "$TEST_DIR/sink.log"; then
	fail "the server saw a failure: $(grep FAIL "$TEST_DIR/sink.log" | head -5)"
fi

step "every connection is closed on the relay too"
wait_for "[[ \$(tunnel_get data details.forwards.0.connections) == 0 ]]" 10 ||
	fail "the relay still counts connections: $(tunnel_get data details)"

pass "10 MB each way and 100 concurrent connections arrived intact"
