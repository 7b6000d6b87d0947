#!/usr/bin/env bash
# daemon_socket_perms: the control socket is a socket of mode 0600 owned by
# the user running the daemon, even when the daemon starts under umask 000.
# shellcheck source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

relay_tunnel web "$(free_port)" "$(free_port)" >"$CONF"
OLD_UMASK=$(umask)
umask 000 # a permissive umask must not leak into the socket's mode
start_daemon "$CONF"
umask "$OLD_UMASK"

[[ -S $SOCK ]] || fail "$SOCK is not a socket"
assert_eq "$(stat -c %a "$SOCK")" 600 "mode of $SOCK"
assert_eq "$(stat -c %u "$SOCK")" "$(id -u)" "owner of $SOCK"
pass "the control socket is mode 0600"
