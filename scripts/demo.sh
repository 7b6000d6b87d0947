#!/usr/bin/env bash
# scripts/demo.sh: build warren and show one tunnel carrying real traffic.
#
# Starts a small web server on 127.0.0.1, a warren daemon whose one tunnel
# forwards a free loopback port to it, fetches a page through the tunnel with
# curl, prints `warren status` (table and JSON), then stops everything.
# Nothing listens on anything but 127.0.0.1, and nothing is left running.
#
# Today the tunnel uses the `relay` transport (a plain TCP relay). The steps
# are split so that an SSH demo only swaps backend_*: start a private sshd on
# loopback and write an `ssh-forward` tunnel instead of a `relay` one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
WARREN="$top/build/core/warren"
PLUGIN_DIR="$top/build/plugins/lib"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

WORK=""
PIDS=()
cleanup() {
	local rc=$? pid i
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $WORK ]]; then
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() {
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		[[ $pid == "$1" ]] || keep+=("$pid")
	done
	PIDS=("${keep[@]}")
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_until TIMEOUT_SECONDS CMD...: poll CMD every 0.1 s.
wait_until() {
	local timeout=$1 i
	shift
	for ((i = 0; i < timeout * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

port_open() {
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()' "$1"
}

warren() { "$WARREN" -S "$SOCK" --plugin-dir "$PLUGIN_DIR" "$@"; }

# --- the service behind the tunnel -------------------------------------------
start_web_server() {
	mkdir -p "$WORK/www"
	cat >"$WORK/www/index.html" <<'EOF'
<!doctype html>
<title>warren demo</title>
<p>Hello from the web server behind the warren tunnel.</p>
EOF
	WEB_PORT=$(free_port)
	python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" "$WEB_PORT" \
		>"$WORK/http.log" 2>&1 &
	PIDS+=($!)
	wait_until 10 port_open "$WEB_PORT" || die "the web server did not start: $(cat "$WORK/http.log")"
	echo "web server on 127.0.0.1:$WEB_PORT serving $WORK/www"
}

# --- the transport: relay today; an SSH demo replaces these two ---------------
backend_start() { :; } # ssh: start a private sshd on 127.0.0.1 with a throwaway key

backend_config() {
	cat <<EOF
[tunnel web]
transport = relay
autostart = yes
listen = 127.0.0.1:$TUNNEL_PORT
connect = 127.0.0.1:$WEB_PORT
EOF
}

# --- the daemon ---------------------------------------------------------------
start_warren() {
	TUNNEL_PORT=$(free_port)
	{
		echo "[daemon]"
		echo "log_level = info"
		echo
		backend_config
	} >"$WORK/warren.conf"
	echo "config $WORK/warren.conf:"
	sed 's/^/    /' "$WORK/warren.conf"
	"$WARREN" daemon -c "$WORK/warren.conf" -S "$SOCK" --plugin-dir "$PLUGIN_DIR" \
		2>"$WORK/daemon.log" &
	DAEMON_PID=$!
	PIDS+=("$DAEMON_PID")
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		warren status >/dev/null 2>&1 && break
		sleep 0.1
	done
	warren status >/dev/null 2>&1 || die "warren daemon did not come up; its log:
$(cat "$WORK/daemon.log")"
	wait_until 10 port_open "$TUNNEL_PORT" || die "the tunnel port $TUNNEL_PORT never opened; daemon log:
$(cat "$WORK/daemon.log")"
}

main() {
	say "setup (packages and build)"
	"$here/setup.sh"
	[[ -x $WARREN ]] || die "$WARREN was not built"

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/warren-demo.XXXXXX")
	SOCK="$WORK/warren.sock"

	say "a web server on loopback"
	start_web_server
	backend_start

	say "warren daemon"
	start_warren
	echo "daemon pid $DAEMON_PID, control socket $SOCK"

	say "curl http://127.0.0.1:$TUNNEL_PORT/ (through the tunnel)"
	curl --silent --show-error --fail --max-time 10 "http://127.0.0.1:$TUNNEL_PORT/"

	say "warren status"
	warren status

	say "warren status --json"
	warren status --json

	say "stopping"
	kill -TERM "$DAEMON_PID"
	local rc=0
	wait "$DAEMON_PID" || rc=$?
	forget_pid "$DAEMON_PID"
	echo "warren daemon exited with status $rc"
	echo "daemon log:"
	sed 's/^/    /' "$WORK/daemon.log"
	[[ $rc -eq 0 ]] || die "the daemon did not stop cleanly"
	echo
	echo "demo done: the page above went through warren's tunnel on 127.0.0.1:$TUNNEL_PORT"
}

main "$@"
