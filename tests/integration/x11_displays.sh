#!/usr/bin/env bash
# x11_displays: every DISPLAY form reaches the X server, each with the
# cookie the Xauthority file has for it: :N.S, unix:N, the socket path
# /tmp/.X11-unix/XN, a socket path ending in :N (as XQuartz's), :K served
# only in the abstract namespace (no file socket: the abstract one is
# tried, and first), and 127.0.0.1:M over TCP with a cookie stored for the
# address 127.0.0.1 (FamilyInternet). A display that does not exist (local
# or TCP) is a clear error in status, retried, with the daemon and the
# other tunnels unharmed; a display that goes away later degrades the
# tunnel, its clients get the reason in a Failed reply, and it recovers
# when the display is back. A malformed display is a FILE:LINE error.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/x11.sh
. "$(dirname "$0")/../lib/x11.sh"

command -v socat >/dev/null || skip "socat is not installed"
start_sshd --x11
start_xvfb
COOKIE=$XVFB_COOKIE
XSOCK=/tmp/.X11-unix/X$XVFB_NUM

# K: served in the abstract namespace only; M: over TCP on 127.0.0.1.
ABS=$(free_display_number 400 699) || fail "no free display number"
TCPN=$(free_display_number 700 999) || fail "no free display number"
while [[ $TCPN == "$ABS" ]]; do TCPN=$(free_display_number 700 999); done
GHOST=$(free_display_number 400 999) || fail "no free display number"
GHOST_TCP=$(free_display_number 400 999) || fail "no free display number"

# start_abstract: socat on @/tmp/.X11-unix/XK in front of Xvfb.
start_abstract() {
	spawn "$TEST_DIR/abstract.log" socat "ABSTRACT-LISTEN:/tmp/.X11-unix/X$ABS,fork" \
		"UNIX-CONNECT:$XSOCK"
	ABS_PID=$SPAWNED_PID
	wait_for "grep -q '@/tmp/.X11-unix/X$ABS\$' /proc/net/unix" 10 || fail "socat abstract did not listen"
}
start_abstract
spawn "$TEST_DIR/tcp.log" socat "TCP-LISTEN:$((6000 + TCPN)),bind=127.0.0.1,reuseaddr,fork" \
	"UNIX-CONNECT:$XSOCK"
wait_for "port_open $((6000 + TCPN))" 10 || fail "socat tcp did not listen"
mkdir -p "$TEST_DIR/launchd"
spawn "$TEST_DIR/path.log" socat "UNIX-LISTEN:$TEST_DIR/launchd/org.warren\\:$XVFB_NUM,fork" \
	"UNIX-CONNECT:$XSOCK"
wait_for "[[ -S '$TEST_DIR/launchd/org.warren:$XVFB_NUM' ]]" 10 || fail "socat path did not listen"

# The Xauthority files: the local displays by host name (as xauth writes
# them), the TCP one by address only (written with nmerge).
LOCAL_AUTH="$TEST_DIR/local.xauth"
: >"$LOCAL_AUTH"
xauth -q -f "$LOCAL_AUTH" add ":$XVFB_NUM" MIT-MAGIC-COOKIE-1 "$COOKIE"
xauth -q -f "$LOCAL_AUTH" add ":$ABS" MIT-MAGIC-COOKIE-1 "$COOKIE"
TCP_AUTH="$TEST_DIR/tcp.xauth"
: >"$TCP_AUTH"
printf '0000 0004 7f000001 %04x %s 0012 %s 0010 %s\n' "${#TCPN}" \
	"$(printf '%s' "$TCPN" | od -An -tx1 | tr -d ' \n')" \
	"$(printf 'MIT-MAGIC-COOKIE-1' | od -An -tx1 | tr -d ' \n')" "$COOKIE" |
	xauth -q -f "$TCP_AUTH" nmerge -
[[ $(xauth -f "$TCP_AUTH" nlist) == 0000* ]] || fail "no FamilyInternet entry in $TCP_AUTH"

FORMS=(screen unixn xpath launchd abstract tcp)
{
	gateway_section gw
	x11_tunnel screen "display = :$XVFB_NUM.0" "xauthority = $LOCAL_AUTH"
	x11_tunnel unixn "display = unix:$XVFB_NUM" "xauthority = $LOCAL_AUTH"
	x11_tunnel xpath "display = $XSOCK" "xauthority = $LOCAL_AUTH"
	x11_tunnel launchd "display = $TEST_DIR/launchd/org.warren:$XVFB_NUM" "xauthority = $LOCAL_AUTH"
	x11_tunnel abstract "display = :$ABS" "xauthority = $LOCAL_AUTH"
	x11_tunnel tcp "display = 127.0.0.1:$TCPN" "xauthority = $TCP_AUTH"
	x11_tunnel ghost "display = :$GHOST" "xauthority = $LOCAL_AUTH"
	x11_tunnel ghosttcp "display = 127.0.0.1:$GHOST_TCP" "xauthority = $TCP_AUTH"
} >"$CONF"
start_daemon "$CONF"

step "each display form reaches Xvfb"
for t in "${FORMS[@]}"; do
	wait_state "$t" up 20
	RD=$(remote_display "$t")
	OUT=$(gw_ssh "DISPLAY=$RD xdpyinfo 2>&1") || fail "xdpyinfo through tunnel $t ($RD): $OUT"
	assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "screen through tunnel $t"
done

step "displays that do not exist: a clear error in status, retried, nothing else harmed"
wait_for "[[ \$(tunnel_get ghost last_error) == *'cannot connect to the local X display :$GHOST'* ]]" 10 ||
	fail "ghost: $(tunnel_get ghost)"
assert_contains "$(tunnel_get ghost last_error)" "No such file or directory" "ghost's reason"
wait_for "[[ \$(tunnel_get ghosttcp last_error) == *'127.0.0.1 port $((6000 + GHOST_TCP)): Connection refused'* ]]" 10 ||
	fail "ghosttcp: $(tunnel_get ghosttcp)"
wait_for "(( \$(tunnel_get ghost restarts) >= 2 ))" 15 || fail "ghost is not retried: $(tunnel_get ghost)"
assert_match "$(tunnel_get ghost state)" '^(retrying|connecting)$' "ghost's state"
alive "$DAEMON_PID" || fail "the daemon died"
for t in "${FORMS[@]}"; do
	assert_eq "$(tunnel_get "$t" state)" up "state of $t"
done

step "a display that goes away degrades the tunnel, its clients get the reason; it recovers"
RD=$(tunnel_get abstract details.remote_display)
kill -TERM "$ABS_PID"
wait_exit "$ABS_PID" 5 || fail "socat did not stop"
OUT=$(gw_ssh "DISPLAY=$RD xdpyinfo 2>&1; echo rc=\$?")
assert_contains "$OUT" "cannot connect to the local X display :$ABS" "what the X client prints"
assert_contains "$OUT" "rc=1" "xdpyinfo's status without the display"
wait_state abstract degraded 10
start_abstract
OUT=$(gw_ssh "DISPLAY=$RD xdpyinfo 2>&1")
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "screen once the display is back"
wait_state abstract up 10

step "a malformed display is a config error with its line"
cat >"$TEST_DIR/bad.conf" <<EOF
$(gateway_section gw)
[tunnel bad]
transport = x11
gateway = gw
display = somehost::0
EOF
expect_rc 2 warren_cli check -c "$TEST_DIR/bad.conf"
assert_contains "$ERR" "bad.conf:$(grep -n '^display' "$TEST_DIR/bad.conf" | cut -d: -f1): display:" "FILE:LINE"
assert_contains "$ERR" "DECnet" "the reason"
pass "6 display forms reach Xvfb; missing displays fail clearly and are retried; a lost display degrades and recovers"
