#!/usr/bin/env bash
# x11_forward: an x11 tunnel with no command keeps a display open on the
# gateway, and X clients there reach the local X server (Xvfb with an
# authorization file) through it: xdpyinfo on the gateway reports Xvfb's
# 1234x567 screen; status shows the gateway's DISPLAY; clients with a forged
# cookie, no cookie, a cookie of the wrong length or another auth protocol
# are refused with the X protocol's Failed reply while a good client right
# after works; setups in both byte orders, sent byte by byte or with a
# request pipelined behind them, work; a truncated setup and one in no byte
# order disturb nothing; 20 clients at once (20 xdpyinfo, and 20 held
# connections counted in status); a restart gives a working display with a
# new fake cookie (the old one is refused), and so does a reconnect after
# the link is lost. The real cookie is never on the gateway and no cookie is
# in the log.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/x11.sh
. "$(dirname "$0")/../lib/x11.sh"

start_sshd --x11
start_xvfb
{
	gateway_section gw
	x11_tunnel desk
} >"$CONF"
start_daemon "$CONF"
wait_state desk up 20
RDISPLAY=$(remote_display desk)
assert_match "$RDISPLAY" '^localhost:[0-9]+\.0$' "remote_display"
RNUM=${RDISPLAY#localhost:}
RNUM=${RNUM%.0}
RPORT=$((6000 + RNUM))
assert_eq "$(tunnel_get desk details.display)" "$XVFB_DISPLAY" "details.display"

# fake_cookie: the cookie sshd stored on the gateway for the display.
fake_cookie() {
	local num=${RDISPLAY#localhost:}
	xauth -f "$SSHD_XAUTHORITY" list |
		awk -v d="unix:${num%.0}" '$1 ~ "/"d"$" || $1 == d { print $3; exit }'
}
FAKE=$(fake_cookie)
assert_match "$FAKE" '^[0-9a-f]{32}$' "fake cookie on the gateway"
register_secret "$FAKE"
REAL=$XVFB_COOKIE
[[ $FAKE != "$REAL" ]] || fail "the gateway holds the real cookie"

x11c() {
	python3 "$TOOLS/x11_client.py" --port "$RPORT" --cookie "$FAKE" "$@"
}

step "xdpyinfo on the gateway, through the tunnel, sees Xvfb's screen"
OUT=$(gw_ssh "DISPLAY=$RDISPLAY xdpyinfo")
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "screen size through the tunnel"

step "forged, missing, mis-sized and foreign authorization are refused; a good client right after works"
FORGED="$TEST_DIR/forged.xauth"
: >"$FORGED"
xauth -q -f "$FORGED" add "$RDISPLAY" MIT-MAGIC-COOKIE-1 "$(new_cookie)"
RUN_ERR=$(gw_ssh "DISPLAY=$RDISPLAY XAUTHORITY=$FORGED xdpyinfo 2>&1; echo rc=\$?")
assert_contains "$RUN_ERR" "Invalid MIT-MAGIC-COOKIE-1 key" "xdpyinfo with a forged cookie"
assert_contains "$RUN_ERR" "rc=1" "xdpyinfo with a forged cookie fails"
RUN_ERR=$(gw_ssh "DISPLAY=$RDISPLAY XAUTHORITY=/dev/null xdpyinfo 2>&1; echo rc=\$?")
assert_contains "$RUN_ERR" "Authorization required" "xdpyinfo without a cookie"
assert_contains "$RUN_ERR" "rc=1" "xdpyinfo without a cookie fails"
OUT=$(gw_ssh "DISPLAY=$RDISPLAY xdpyinfo")
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "a good client right after the forged ones"
for order in l B; do
	x11c --order "$order" --case wrong-cookie --expect-reason "Invalid MIT-MAGIC-COOKIE-1 key" >/dev/null
	x11c --order "$order" --case no-auth --expect-reason "Authorization required" >/dev/null
	x11c --order "$order" --case short-data --expect-reason "Invalid MIT-MAGIC-COOKIE-1 key" >/dev/null
	x11c --order "$order" --case long-data --expect-reason "Invalid MIT-MAGIC-COOKIE-1 key" >/dev/null
	x11c --order "$order" --case other-proto --expect-reason "only MIT-MAGIC-COOKIE-1" >/dev/null
	x11c --order "$order" --case good --expect-size "$XVFB_SIZE" >/dev/null
done
REFUSED=$(tunnel_get desk details.refused)
((REFUSED == 12)) || fail "refused: $REFUSED, expected 12 (2 xdpyinfo, 10 hand-made)"
assert_eq "$(tunnel_get desk state)" up "state after the refusals"

step "both byte orders, byte-by-byte and pipelined setups; a truncated setup and a bad byte order disturb nothing"
for order in l B; do
	assert_eq "$(x11c --order "$order" --case good --expect-size "$XVFB_SIZE")" "$XVFB_SIZE" "order $order"
	x11c --order "$order" --case split --expect-size "$XVFB_SIZE" >/dev/null
	x11c --order "$order" --case pipelined --expect-size "$XVFB_SIZE" >/dev/null
	x11c --order "$order" --case truncated >/dev/null
	x11c --order "$order" --case bad-order >/dev/null
	x11c --order "$order" --case good --expect-size "$XVFB_SIZE" >/dev/null
done

step "20 X clients at once"
OUT=$(gw_ssh "for i in \$(seq 20); do DISPLAY=$RDISPLAY xdpyinfo >$TEST_DIR/xdpy.\$i 2>&1 & done;
	wait; grep -h dimensions: $TEST_DIR/xdpy.*")
assert_eq "$(grep -c "dimensions: *$XVFB_SIZE pixels" <<<"$OUT")" 20 "xdpyinfo runs that saw $XVFB_SIZE"
x11c --case many --conns 20 --expect-size "$XVFB_SIZE" \
	--ready-file "$TEST_DIR/held" --release-file "$TEST_DIR/release" >"$TEST_DIR/many.out" 2>&1 &
MANY=$!
wait_for "[[ -s '$TEST_DIR/held' ]]" 30 || fail "20 held connections not set up: $(cat "$TEST_DIR/many.out")"
CONNS=$(tunnel_get desk details.connections)
((CONNS == 20)) || fail "status counts $CONNS connections while 20 are held"
touch "$TEST_DIR/release"
wait "$MANY" || fail "the 20 held connections: $(cat "$TEST_DIR/many.out")"
wait_for "[[ \$(tunnel_get desk details.connections) == 0 ]]" 10 ||
	fail "connections still counted: $(tunnel_get desk details)"

step "a restart brings a working display with a new fake cookie"
OLD_FAKE=$FAKE
OLD_PORT=$RPORT
warren_cli restart desk >/dev/null
wait_state desk up 20
RDISPLAY=$(remote_display desk)
RNUM=${RDISPLAY#localhost:}
RNUM=${RNUM%.0}
RPORT=$((6000 + RNUM))
FAKE=$(fake_cookie)
register_secret "$FAKE"
[[ $FAKE != "$OLD_FAKE" ]] || fail "the fake cookie did not change with the session"
OUT=$(gw_ssh "DISPLAY=$RDISPLAY xdpyinfo")
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "screen size after the restart"
if [[ $RPORT == "$OLD_PORT" ]]; then
	python3 "$TOOLS/x11_client.py" --port "$RPORT" --cookie "$OLD_FAKE" --case good \
		>/dev/null 2>&1 && fail "the previous session's cookie still works"
fi

step "a link lost (the gateway's session processes killed) comes back with a working display"
RESTARTS=$(tunnel_get desk restarts)
KIDS=$(sshd_tree | grep -vx "$SSHD_PID" || true)
[[ -n $KIDS ]] || fail "no sshd session process to kill"
# shellcheck disable=SC2086 # a list of pids
kill -TERM $KIDS
wait_for "(( \$(tunnel_get desk restarts) > $RESTARTS ))" 30 ||
	fail "the tunnel did not reconnect: $(tunnel_get desk)"
wait_state desk up 20
RDISPLAY=$(remote_display desk)
OUT=$(gw_ssh "DISPLAY=$RDISPLAY xdpyinfo")
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "screen size after the reconnect"
FAKE=$(fake_cookie)
register_secret "$FAKE"

step "no cookie in the log, the real one never on the gateway"
if grep -qi -e "$REAL" -e "$FAKE" -e "$OLD_FAKE" "$DAEMON_LOG"; then
	fail "a cookie is in the daemon's log"
fi
if xauth -f "$SSHD_XAUTHORITY" list | grep -qi "$REAL"; then
	fail "the real cookie reached the gateway"
fi
pass "display $RDISPLAY on the gateway reaches Xvfb ($XVFB_SIZE); 12 bad setups refused; both byte orders; 20 at once; restart; reconnect"
