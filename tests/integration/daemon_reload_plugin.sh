#!/usr/bin/env bash
# daemon_reload_plugin: a tunnel whose transport is missing fails with the
# reason and leaves the others running; once the plugin is installed,
# `warren reload` brings that tunnel up without touching the others.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

start_echo_server echo
PLUGINS="$TEST_DIR/plugins"
mkdir -m 755 "$PLUGINS"
P1=$(free_port)
relay_tunnel late "$P1" "$SERVER_PORT" >"$CONF"
WARREN_TEST_PLUGIN_DIR="$PLUGINS" start_daemon "$CONF"
wait_state late failed 10
assert_contains "$(tunnel_get late last_error)" "transport 'relay' unavailable: no relay.so in $PLUGINS" "reason"

step "install the plugin, reload"
cp "$(readlink -f "$WARREN_TEST_PLUGIN_DIR/relay.so")" "$PLUGINS/relay.so"
chmod 755 "$PLUGINS/relay.so"
WARREN_TEST_PLUGIN_DIR="$PLUGINS" warren_cli reload
wait_state late up 10
echo_check "$P1"
pass "a tunnel whose transport was missing came up after the plugin was installed and the config reloaded"
