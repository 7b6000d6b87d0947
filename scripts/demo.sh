#!/usr/bin/env bash
# scripts/demo.sh: build warren and show the PuTTY/OpenSSH tunnel recipe
# kept up by the daemon.
#
# Starts a small web server on 127.0.0.1, a private OpenSSH sshd on
# 127.0.0.1 with throwaway host and user keys (the "gateway"), and a warren
# daemon with one `ssh-forward` tunnel through that sshd: a local forward
# (ssh -L) to the web server and a dynamic SOCKS forward (ssh -D). It fetches
# the page through both with curl, prints `warren status` (table and JSON),
# then stops everything. Nothing listens on anything but 127.0.0.1, and
# nothing is left running.
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

# --- the gateway: a private sshd on loopback ----------------------------------
backend_start() {
	local ssh_dir="$WORK/ssh"
	mkdir -m 700 "$ssh_dir"
	ssh-keygen -q -t ed25519 -N '' -C warren-demo-host -f "$ssh_dir/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C warren-demo-user -f "$ssh_dir/id_ed25519"
	cp "$ssh_dir/id_ed25519.pub" "$ssh_dir/authorized_keys"
	SSHD_PORT=$(free_port)
	cat >"$ssh_dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $ssh_dir/host_ed25519
PidFile none
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $ssh_dir/authorized_keys
PermitRootLogin prohibit-password
AllowTcpForwarding yes
EOF
	# The host key is known in advance: warren checks it strictly.
	printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$ssh_dir/host_ed25519.pub")" \
		>"$ssh_dir/known_hosts"
	if [[ $(id -u) == 0 ]]; then
		mkdir -p /run/sshd # sshd's privilege separation directory
	fi
	/usr/sbin/sshd -D -e -f "$ssh_dir/sshd_config" 2>"$WORK/sshd.log" &
	PIDS+=($!)
	wait_until 10 port_open "$SSHD_PORT" || die "sshd did not start: $(cat "$WORK/sshd.log")"
	echo "sshd on 127.0.0.1:$SSHD_PORT with throwaway keys in $ssh_dir"
}

backend_config() {
	SOCKS_PORT=$(free_port)
	cat <<EOF
[gateway demo-gw]
host = 127.0.0.1
port = $SSHD_PORT
user = $(id -un)
identity = $WORK/ssh/id_ed25519
agent = no
known_hosts = $WORK/ssh/known_hosts
host_key_check = strict
keepalive = 10s

[tunnel web]
transport = ssh-forward
gateway = demo-gw
autostart = yes
local = $TUNNEL_PORT:127.0.0.1:$WEB_PORT
dynamic = $SOCKS_PORT
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

	say "a private sshd on loopback (the gateway)"
	backend_start

	say "warren daemon"
	start_warren
	echo "daemon pid $DAEMON_PID, control socket $SOCK"

	say "curl http://127.0.0.1:$TUNNEL_PORT/ (through the tunnel)"
	curl --silent --show-error --fail --max-time 10 "http://127.0.0.1:$TUNNEL_PORT/"

	say "curl --socks5-hostname 127.0.0.1:$SOCKS_PORT http://localhost:$WEB_PORT/ (SOCKS, name resolved at the gateway)"
	curl --silent --show-error --fail --max-time 10 --socks5-hostname "127.0.0.1:$SOCKS_PORT" \
		"http://localhost:$WEB_PORT/"

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
	echo "demo done: the page went through warren's SSH tunnel (127.0.0.1:$TUNNEL_PORT -> sshd -> 127.0.0.1:$WEB_PORT) and its SOCKS forward"
}

main "$@"
