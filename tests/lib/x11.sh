# shellcheck shell=bash
# tests/lib/x11.sh: a private X server for the x11 tests, sourced after
# common.sh and sshd.sh.
#
# start_xvfb starts Xvfb on a free display number with an authorization
# file, so that only clients with its cookie get in (a wrong cookie really
# fails), and a screen of XVFB_SIZE (1234x567: a size no default has, so a
# client that reports it went through this server). The gateway is the
# test's sshd, started with --x11; gw_ssh runs a command there like a user
# logged in on the gateway. Xvfb listens on its local sockets only.
#
# Sets: XVFB_DISPLAY (:N), XVFB_NUM, XVFB_AUTH (the real cookie's file),
# XVFB_COOKIE (registered as a secret: never in a log), XVFB_PID.

XVFB_SIZE=1234x567

for _cmd in Xvfb xauth xdpyinfo ssh; do
	command -v "$_cmd" >/dev/null || skip "$_cmd is not installed (scripts/setup.sh installs xvfb xauth x11-utils)"
done
unset _cmd

# display_free N: nothing uses display N (socket, abstract socket, lock, TCP).
display_free() {
	local n=$1
	[[ ! -e /tmp/.X11-unix/X$n && ! -e /tmp/.X$n-lock ]] || return 1
	! grep -q "@/tmp/.X11-unix/X$n\$" /proc/net/unix 2>/dev/null || return 1
	! port_listening $((6000 + n))
}

# free_display_number FROM TO: a free display number in [FROM, TO], picked
# at random so that tests running at once rarely collide.
free_display_number() {
	local from=$1 to=$2 i n
	for ((i = 0; i < 50; i++)); do
		n=$((from + RANDOM % (to - from + 1)))
		if display_free "$n"; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# new_cookie: 16 random bytes in hex.
new_cookie() {
	python3 -c 'import secrets; print(secrets.token_hex(16))'
}

start_xvfb() {
	local tries
	for ((tries = 0; tries < 5; tries++)); do
		XVFB_NUM=$(free_display_number 40 399) || fail "no free X display number"
		XVFB_DISPLAY=":$XVFB_NUM"
		XVFB_AUTH="$TEST_DIR/xvfb.xauth"
		: >"$XVFB_AUTH"
		XVFB_COOKIE=$(new_cookie)
		register_secret "$XVFB_COOKIE"
		xauth -q -f "$XVFB_AUTH" add "$XVFB_DISPLAY" MIT-MAGIC-COOKIE-1 "$XVFB_COOKIE"
		# -noreset: by default an X server resets when its last running
		# client leaves, and the reset kills every connection still in
		# its setup (accepted, setup not yet processed): the client gets
		# EPIPE or ECONNRESET. A desktop never gets there (the window
		# manager stays connected); this Xvfb has no client of its own,
		# so with 20 clients at once under load one could finish before
		# another's setup was read, and the reset killed that one.
		spawn "$TEST_DIR/xvfb.log" Xvfb "$XVFB_DISPLAY" -auth "$XVFB_AUTH" -nolisten tcp \
			-noreset -screen 0 "${XVFB_SIZE}x24"
		XVFB_PID=$SPAWNED_PID
		if wait_for "DISPLAY=$XVFB_DISPLAY XAUTHORITY=$XVFB_AUTH xdpyinfo" 10; then
			break
		fi
		# Lost a race for the number: stop it and pick another.
		if alive "$XVFB_PID"; then
			kill -TERM "$XVFB_PID"
		fi
		wait_exit "$XVFB_PID" 5 || fail "Xvfb $XVFB_DISPLAY neither starts nor stops"
		XVFB_PID=""
	done
	[[ -n $XVFB_PID ]] || fail "Xvfb did not start (see xvfb.log)"
	# The tests prove nothing unless the server really refuses strangers.
	if DISPLAY=$XVFB_DISPLAY XAUTHORITY=/dev/null xdpyinfo >/dev/null 2>&1; then
		fail "Xvfb $XVFB_DISPLAY admits a client without its cookie"
	fi
}

# gw_ssh COMMAND: run COMMAND on the gateway (the test's sshd) as a user
# logged in there, with the gateway's XAUTHORITY (sshd sets it).
gw_ssh() {
	timeout -k 5 60 ssh -F /dev/null -i "$USER_KEY" -p "$SSHD_PORT" \
		-o UserKnownHostsFile="$KNOWN_HOSTS" -o StrictHostKeyChecking=yes \
		-o BatchMode=yes -o IdentitiesOnly=yes -o ForwardX11=no \
		-o LogLevel=ERROR "$(id -un)@127.0.0.1" "$@"
}

# x11_tunnel NAME [KEY = VALUE...]: an x11 [tunnel] on gateway gw, for the
# test's Xvfb unless a display line is given.
x11_tunnel() {
	local name=$1 line have_display=no
	shift
	echo "[tunnel $name]"
	echo "transport = x11"
	echo "gateway = gw"
	echo "autostart = yes"
	echo "retry_min = 1s"
	echo "retry_max = 2s"
	for line in "$@"; do
		[[ $line == display* ]] && have_display=yes
		echo "$line"
	done
	if [[ $have_display == no ]]; then
		echo "display = $XVFB_DISPLAY"
		echo "xauthority = $XVFB_AUTH"
	fi
	echo
}

# remote_display NAME [TIMEOUT]: wait for the gateway's DISPLAY in status.
remote_display() {
	local name=$1 timeout=${2:-20}
	wait_for "[[ \$(tunnel_get '$name' details.remote_display) == *:* ]]" "$timeout" ||
		fail "tunnel $name reports no remote_display; status: $(status_json 2>&1)"
	tunnel_get "$name" details.remote_display
}

# screen_size OUTPUT: the "dimensions:" of xdpyinfo's output.
screen_size() {
	awk '/dimensions:/ { print $2; exit }' <<<"$1"
}
