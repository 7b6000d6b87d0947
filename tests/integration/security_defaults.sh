#!/usr/bin/env bash
# security_defaults: the defaults that keep a tunnel from becoming an open
# door, each refused with a reason a user can act on.
#  - A forward or relay bound to anything but loopback (0.0.0.0, [::], a
#    documentation address for -R) without accept_remote_clients = yes:
#    `warren check` and `warren daemon` exit 2 with FILE:LINE: and why;
#    loopback spellings (127.0.0.2, [::1], localhost) pass, and the same
#    binds pass with accept_remote_clients = yes (checked only: nothing here
#    ever listens beyond loopback).
#  - A plugin directory writable by others: every plugin in it refused;
#    a plugin file writable by others: that plugin refused, the others load;
#    a tunnel that needs a refused plugin fails `warren check` with the file
#    and the mode, and in the daemon it fails while the others run.
# Elsewhere: key and passphrase files readable by others (ssh_auth.sh), a
# changed host key under strict (ssh_hostkey.sh), the control socket's peer
# credentials (security_control_peercred.sh), secrets in logs
# (security_no_secrets_in_logs.sh).
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

step "non-loopback binds without accept_remote_clients: refused with the reason"
KEY="$TEST_DIR/id_none" # never read: check does not connect
cat >"$CONF" <<EOF
[gateway gw]
host = 127.0.0.1
identity = $KEY

[tunnel open]
transport = ssh-forward
gateway = gw
local = 0.0.0.0:2323:telnetservername:23
remote = 192.0.2.1:6000:localhost:6000
dynamic = [::]:1080

[tunnel openrelay]
transport = relay
listen = 0.0.0.0:9999
connect = 127.0.0.1:1
EOF
expect_rc 2 warren_cli check -c "$CONF"
for l in 8 9 10 14; do
	assert_contains "$ERR$OUT" "$CONF:$l: " "line $l reported"
done
assert_eq "$(grep -c 'accept_remote_clients = yes' <<<"$ERR$OUT")" 4 "each of the 4 binds says how to allow it"
assert_contains "$ERR$OUT" "hands the network behind the gateway to anyone" "why"
expect_rc 2 timeout 20 "$WARREN_BIN" daemon -c "$CONF" -S "$SOCK" --plugin-dir "$WARREN_TEST_PLUGIN_DIR"
assert_contains "$ERR" "binds 0.0.0.0" "the daemon refuses to start"
[[ ! -e $SOCK ]] || fail "the refused daemon left a socket"

step "loopback binds pass; non-loopback passes only with accept_remote_clients = yes"
cat >"$CONF" <<EOF
[gateway gw]
host = 127.0.0.1
identity = $KEY

[tunnel lo]
transport = ssh-forward
gateway = gw
local = 127.0.0.2:2323:telnetservername:23
local = [::1]:2324:telnetservername:23
remote = localhost:6000:localhost:6000
dynamic = 1080

[tunnel open]
transport = ssh-forward
gateway = gw
accept_remote_clients = yes
local = 0.0.0.0:2325:telnetservername:23
dynamic = [::]:1081
EOF
expect_rc 0 warren_cli check -c "$CONF"

step "a plugin directory writable by others: its plugins are refused"
PDIR="$TEST_DIR/plugins"
mkdir -m 0755 "$PDIR"
cp -L "$WARREN_TEST_PLUGIN_DIR/relay.so" "$WARREN_TEST_PLUGIN_DIR/ssh-forward.so" "$PDIR/"
chmod 0755 "$PDIR"/*.so
L1=$(free_port)
L2=$(free_port)
relay_tunnel r1 "$L1" "$(free_port)" >"$CONF"
chmod 0757 "$PDIR"
expect_rc 0 warren_cli plugins --plugin-dir "$PDIR"
assert_contains "$OUT$ERR" "plugin directory is writable by group or others (mode 757): refusing it" "plugins"
[[ $OUT != *"relay            1"* ]] || fail "relay listed as loaded from a writable directory: $OUT"
expect_rc 2 warren_cli --plugin-dir "$PDIR" check -c "$CONF"
assert_contains "$ERR$OUT" "$CONF:2: transport 'relay' unavailable: plugin directory $PDIR: plugin directory is writable by group or others (mode 757)" "check"
chmod 0775 "$PDIR"
expect_rc 2 warren_cli --plugin-dir "$PDIR" check -c "$CONF"
assert_contains "$ERR$OUT" "(mode 775)" "group-writable is refused too"

step "a plugin file writable by others: that one refused, the others load"
chmod 0755 "$PDIR"
chmod 0646 "$PDIR/relay.so"
expect_rc 0 warren_cli plugins --plugin-dir "$PDIR"
assert_contains "$OUT" "refused: $PDIR/relay.so: plugin file is writable by group or others (mode 646)" "relay refused"
assert_match "$OUT" "ssh-forward +1 " "ssh-forward still loads"
expect_rc 2 warren_cli --plugin-dir "$PDIR" check -c "$CONF"
assert_contains "$ERR$OUT" "$PDIR/relay.so: plugin file is writable by group or others (mode 646): refusing it" "check names the file"

step "the same plugin with mode 0755: accepted"
chmod 0755 "$PDIR/relay.so"
expect_rc 0 warren_cli --plugin-dir "$PDIR" check -c "$CONF"
{
	relay_tunnel r1 "$L1" "$(free_port)"
	relay_tunnel r2 "$L2" "$(free_port)"
} >"$CONF"
WARREN_TEST_PLUGIN_DIR=$PDIR start_daemon "$CONF"
wait_state r1 up 10
pass "non-loopback binds need accept_remote_clients; writable plugin dirs and files refused with the mode"
