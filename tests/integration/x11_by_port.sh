#!/usr/bin/env bash
# x11_by_port: README's "other way" works as written: an ssh-forward remote
# forward of a display port on the gateway to the local X server (reached
# over a loopback-only TCP bridge), with the real cookie added on the
# gateway by xauth, lets xdpyinfo there see Xvfb's 1234x567 screen; without
# the cookie it is refused.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/sshd.sh
. "$(dirname "$0")/../lib/sshd.sh"
# shellcheck source=../lib/x11.sh
. "$(dirname "$0")/../lib/x11.sh"

command -v socat >/dev/null || skip "socat is not installed"
start_sshd
start_xvfb
# The local X server on TCP, loopback only (README: the socat bridge).
LOCAL_TCP=$(free_display_number 400 699) || fail "no free display number"
spawn "$TEST_DIR/bridge.log" socat "TCP-LISTEN:$((6000 + LOCAL_TCP)),bind=127.0.0.1,reuseaddr,fork" \
	"UNIX-CONNECT:/tmp/.X11-unix/X$XVFB_NUM"
wait_for "port_open $((6000 + LOCAL_TCP))" 10 || fail "the bridge did not listen"
# The display on the gateway.
GW_DISPLAY=$(free_display_number 700 999) || fail "no free display number"
{
	gateway_section gw
	cat <<EOC
[tunnel x11-by-port]
transport = ssh-forward
gateway = gw
remote = $((6000 + GW_DISPLAY)):localhost:$((6000 + LOCAL_TCP))
EOC
} >"$CONF"
start_daemon "$CONF"
wait_state x11-by-port up 20
wait_for "port_open $((6000 + GW_DISPLAY))" 10 || fail "the gateway does not listen on $((6000 + GW_DISPLAY))"

step "on the gateway: xauth add localhost:$GW_DISPLAY with the real cookie, then xdpyinfo"
COOKIE=$XVFB_COOKIE
GW_AUTH="$TEST_DIR/gw-by-port.xauth"
: >"$GW_AUTH"
OUT=$(gw_ssh "XAUTHORITY=$GW_AUTH DISPLAY=localhost:$GW_DISPLAY xdpyinfo 2>&1; echo rc=\$?")
assert_contains "$OUT" "rc=1" "xdpyinfo before the cookie is there"
OUT=$(gw_ssh "export XAUTHORITY=$GW_AUTH; xauth add localhost:$GW_DISPLAY MIT-MAGIC-COOKIE-1 $COOKIE &&
	DISPLAY=localhost:$GW_DISPLAY xdpyinfo")
assert_eq "$(screen_size "$OUT")" "$XVFB_SIZE" "screen through the remote forward"
pass "remote = $((6000 + GW_DISPLAY)):localhost:$((6000 + LOCAL_TCP)) and the copied cookie show Xvfb's $XVFB_SIZE on the gateway"
