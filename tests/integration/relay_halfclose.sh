#!/usr/bin/env bash
# relay_halfclose: a relay tunnel passes a half-close in either direction:
# the client shuts down its write side and still receives the server's whole
# reply, sent after the server saw that EOF; and the server half-closes first
# and still receives the client's data sent after the client saw that EOF.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_xfer_server sink
LPORT=$(free_port)
relay_tunnel hc "$LPORT" "$SERVER_PORT" >"$CONF"
start_daemon "$CONF"
wait_state hc up

step "client half-closes; the server replies (1 MB) only after that EOF"
xfer "$LPORT" --mode after-eof --up 1000 --down 1M --timeout 10 --max-seconds 60

step "a bare request/reply: client sends and half-closes, the reply still comes"
xfer "$LPORT" --mode after-eof --up 5 --down 5 --timeout 10 --max-seconds 30

step "server half-closes first; the client's data (1 MB) sent after that EOF arrives"
xfer "$LPORT" --mode server-first --up 1M --down 1000 --timeout 10 --max-seconds 60
wait_for "grep -q ': OK server-first' '$TEST_DIR/sink.log'" 10 ||
	fail "the server did not get the client's data after its own half-close: $(tail -3 "$TEST_DIR/sink.log")"

if grep -q FAIL "$TEST_DIR/sink.log"; then
	fail "the server saw a failure: $(grep FAIL "$TEST_DIR/sink.log")"
fi
pass "half-close is carried both ways"
