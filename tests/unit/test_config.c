/*
 * test_config.c: the config file as interface.md describes it: the example
 * parses to the right model, and every kind of mistake is reported with its
 * exact FILE:LINE: message, all of them in one run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define F               "test.conf:"
#define SECTIONS        "expected [daemon], [gateway NAME] or [tunnel NAME]"
#define DURATION_SYNTAX "expected a number with optional s, m or h (30, 30s, 5m, 1h)"
#define BOOL_SYNTAX     "expected yes or no (also true/false, on/off, 1/0)"

static struct wr_config *parse(const char *text, struct warren_diag *diag)
{
	struct wr_config *cfg;

	wr_diag_init(diag, "test.conf");
	cfg = wr_config_parse("test.conf", text, strlen(text), diag);
	assert_non_null(cfg);
	return cfg;
}

static void dump(const struct warren_diag *diag)
{
	size_t i;

	for (i = 0; i < diag->count; i++)
		print_message("  got: %s\n", diag->messages[i]);
}

/* Parses text and expects exactly these messages, in this order. */
static void check_errors(const char *text, const char *const *want)
{
	struct warren_diag diag;
	struct wr_config *cfg = parse(text, &diag);
	size_t n = 0, i;

	while (want[n])
		n++;
	if (diag.count != n) {
		dump(&diag);
		fail_msg("%zu messages, expected %zu, for:\n%s", diag.count, n, text);
	}
	for (i = 0; i < n; i++)
		assert_string_equal(diag.messages[i], want[i]);
	wr_config_free(cfg);
	wr_diag_free(&diag);
}

#define EXPECT(text, ...) check_errors(text, (const char *const[]){__VA_ARGS__, NULL})
#define EXPECT_OK(text)   check_errors(text, (const char *const[]){NULL})

/* Parses text that must be free of errors. */
static struct wr_config *parse_ok(const char *text)
{
	struct warren_diag diag;
	struct wr_config *cfg = parse(text, &diag);

	if (diag.count) {
		dump(&diag);
		fail_msg("unexpected errors for:\n%s", text);
	}
	wr_diag_free(&diag);
	return cfg;
}

static void assert_kv(const struct warren_kv *kv, const char *key, const char *value, int line)
{
	assert_string_equal(kv->key, key);
	assert_string_equal(kv->value, value);
	assert_int_equal(kv->line, line);
}

/* interface.md's example, verbatim. */
static const char example[] =
    "[daemon]                          # optional\n"
    "plugin_dir = /usr/local/lib/warren/plugins\n"
    "control_socket = /run/warren/warren.sock\n"
    "log_level = info                  # error | warn | info | debug\n"
    "\n"
    "[gateway office]                  # an SSH server; many tunnels may name it\n"
    "host = gw.example.com             # required; name or address, IPv4 or IPv6\n"
    "port = 22\n"
    "user = leon                       # default: the user running warren\n"
    "identity = ~/.ssh/id_ed25519      # (repeatable) OpenSSH private key files\n"
    "passphrase_file = ~/.config/warren/office.pass   # optional, must not be readable by "
    "others\n"
    "agent = auto                      # auto (use SSH_AUTH_SOCK when set) | yes | no\n"
    "known_hosts = ~/.ssh/known_hosts\n"
    "host_key_check = strict           # strict | accept-new | off (off logs a warning every "
    "connect)\n"
    "compression = no\n"
    "keepalive = 30s                   # keepalive@openssh.com interval; 0 disables\n"
    "keepalive_max = 3                 # unanswered keepalives before the link is declared dead\n"
    "connect_timeout = 15s\n"
    "ciphers = aes128-ctr,aes256-ctr   # optional preference lists: ciphers, macs, kex, "
    "host_key_types\n"
    "\n"
    "[tunnel telnet]\n"
    "transport = ssh-forward           # required: a plugin name\n"
    "gateway = office                  # required by the SSH transports\n"
    "autostart = yes\n"
    "restart = always                  # always | on-failure | never\n"
    "retry_min = 1s                    # backoff with jitter, doubling from retry_min to "
    "retry_max\n"
    "retry_max = 60s\n"
    "local = 2323:telnetservername:23  # (repeatable) ssh -L syntax: [bind:]port:host:hostport\n"
    "remote = 6000:localhost:6000      # (repeatable) ssh -R syntax: [bind:]port:host:hostport; "
    "port 0 = any\n"
    "dynamic = 1080                    # (repeatable) ssh -D syntax: [bind:]port — SOCKS 4, 4a "
    "and 5\n"
    "accept_remote_clients = no        # PuTTY's \"Local ports accept connections from other "
    "hosts\"\n"
    "\n"
    "[tunnel vpn]\n"
    "transport = ppp-ssh\n"
    "gateway = office\n"
    "local_ip = 10.0.0.1\n"
    "remote_ip = 10.0.0.2\n"
    "route = 192.168.10.0/24           # (repeatable) installed through netlink while the link "
    "is up\n"
    "mtu = 1400\n"
    "pppd = /usr/sbin/pppd\n"
    "pppd_options = \"\"                 # extra options for the local pppd\n"
    "remote_command = pppd nodetach notty noauth   # run on the gateway (add `sudo -n` there "
    "if needed)\n"
    "\n"
    "[tunnel desktop]\n"
    "transport = x11\n"
    "gateway = office\n"
    "display = :0                      # the local X server; default $DISPLAY\n"
    "xauthority = ~/.Xauthority        # default $XAUTHORITY, then ~/.Xauthority\n"
    "command = \"\"                      # remote X program; empty = keep a display open on "
    "the gateway\n";

static void test_example(void **state)
{
	const struct wr_gateway_conf *gw;
	const struct wr_tunnel_conf *t;
	struct wr_config *cfg;

	(void)state;
	assert_int_equal(setenv("HOME", "/home/leon", 1), 0);
	cfg = parse_ok(example);

	assert_string_equal(cfg->path, "test.conf");
	assert_string_equal(cfg->plugin_dir, "/usr/local/lib/warren/plugins");
	assert_string_equal(cfg->control_socket, "/run/warren/warren.sock");
	assert_int_equal(cfg->log_level, WARREN_LOG_INFO);

	assert_int_equal(cfg->ngateways, 1);
	gw = wr_config_gateway(cfg, "office");
	assert_ptr_equal(gw, &cfg->gateways[0]);
	assert_string_equal(gw->name, "office");
	assert_int_equal(gw->line, 6);
	assert_string_equal(gw->pub.name, "office");
	assert_string_equal(gw->pub.host, "gw.example.com");
	assert_int_equal(gw->pub.port, 22);
	assert_string_equal(gw->pub.user, "leon");
	assert_ptr_equal(gw->pub.identities, gw->identities);
	assert_string_equal(gw->pub.identities[0], "/home/leon/.ssh/id_ed25519");
	assert_null(gw->pub.identities[1]);
	assert_string_equal(gw->pub.passphrase_file, "/home/leon/.config/warren/office.pass");
	assert_int_equal(gw->pub.agent, WARREN_AGENT_AUTO);
	assert_string_equal(gw->pub.known_hosts, "/home/leon/.ssh/known_hosts");
	assert_int_equal(gw->pub.host_key_check, WARREN_HOSTKEY_STRICT);
	assert_false(gw->pub.compression);
	assert_int_equal(gw->pub.keepalive_ms, 30000);
	assert_int_equal(gw->pub.keepalive_max, 3);
	assert_int_equal(gw->pub.connect_timeout_ms, 15000);
	assert_string_equal(gw->pub.ciphers, "aes128-ctr,aes256-ctr");
	assert_null(gw->pub.macs);
	assert_null(gw->pub.kex);
	assert_null(gw->pub.host_key_types);

	assert_int_equal(cfg->ntunnels, 3);
	t = wr_config_tunnel(cfg, "telnet");
	assert_ptr_equal(t, &cfg->tunnels[0]);
	assert_int_equal(t->line, 21);
	assert_string_equal(t->transport, "ssh-forward");
	assert_int_equal(t->transport_line, 22);
	assert_string_equal(t->gateway, "office");
	assert_int_equal(t->gateway_line, 23);
	assert_ptr_equal(t->gw, gw);
	assert_true(t->autostart);
	assert_int_equal(t->restart, WR_RESTART_ALWAYS);
	assert_int_equal(t->retry_min_ms, 1000);
	assert_int_equal(t->retry_max_ms, 60000);
	assert_int_equal(t->nkeys, 4);
	assert_kv(&t->keys[0], "local", "2323:telnetservername:23", 28);
	assert_kv(&t->keys[1], "remote", "6000:localhost:6000", 29);
	assert_kv(&t->keys[2], "dynamic", "1080", 30);
	assert_kv(&t->keys[3], "accept_remote_clients", "no", 31);

	t = wr_config_tunnel(cfg, "vpn");
	assert_ptr_equal(t, &cfg->tunnels[1]);
	assert_string_equal(t->transport, "ppp-ssh");
	assert_ptr_equal(t->gw, gw);
	assert_int_equal(t->nkeys, 7);
	assert_kv(&t->keys[0], "local_ip", "10.0.0.1", 36);
	assert_kv(&t->keys[1], "remote_ip", "10.0.0.2", 37);
	assert_kv(&t->keys[2], "route", "192.168.10.0/24", 38);
	assert_kv(&t->keys[3], "mtu", "1400", 39);
	assert_kv(&t->keys[4], "pppd", "/usr/sbin/pppd", 40);
	assert_kv(&t->keys[5], "pppd_options", "", 41);
	assert_kv(&t->keys[6], "remote_command", "pppd nodetach notty noauth", 42);

	t = wr_config_tunnel(cfg, "desktop");
	assert_ptr_equal(t, &cfg->tunnels[2]);
	assert_string_equal(t->transport, "x11");
	assert_ptr_equal(t->gw, gw);
	assert_int_equal(t->nkeys, 3);
	assert_kv(&t->keys[0], "display", ":0", 47);
	/* The transport's keys are passed as written: ~ is its business. */
	assert_kv(&t->keys[1], "xauthority", "~/.Xauthority", 48);
	assert_kv(&t->keys[2], "command", "", 49);
	assert_string_equal(t->canonical, "transport=x11\n"
	                                  "gateway=office\n"
	                                  "display=:0\n"
	                                  "xauthority=~/.Xauthority\n"
	                                  "command=\n"
	                                  "[gateway]\n"
	                                  "host=gw.example.com\n"
	                                  "port=22\n"
	                                  "user=leon\n"
	                                  "identity=~/.ssh/id_ed25519\n"
	                                  "passphrase_file=~/.config/warren/office.pass\n"
	                                  "agent=auto\n"
	                                  "known_hosts=~/.ssh/known_hosts\n"
	                                  "host_key_check=strict\n"
	                                  "compression=no\n"
	                                  "keepalive=30s\n"
	                                  "keepalive_max=3\n"
	                                  "connect_timeout=15s\n"
	                                  "ciphers=aes128-ctr,aes256-ctr");

	wr_config_free(cfg);
}

static void test_empty(void **state)
{
	struct wr_config *cfg;

	(void)state;
	cfg = parse_ok("");
	assert_string_equal(cfg->path, "test.conf");
	assert_null(cfg->plugin_dir);
	assert_null(cfg->control_socket);
	assert_int_equal(cfg->log_level, -1);
	assert_int_equal(cfg->ngateways, 0);
	assert_int_equal(cfg->ntunnels, 0);
	assert_null(wr_config_tunnel(cfg, "x"));
	assert_null(wr_config_gateway(cfg, "x"));
	wr_config_free(cfg);

	cfg = parse_ok("\n   \n\t\n# only a comment\n; another\n[daemon]\n");
	assert_int_equal(cfg->log_level, -1);
	wr_config_free(cfg);

	wr_config_free(NULL);
	assert_null(wr_config_tunnel(NULL, "x"));
	assert_null(wr_config_gateway(NULL, "x"));
}

static void test_defaults(void **state)
{
	const struct wr_gateway_conf *gw;
	const struct wr_tunnel_conf *t;
	struct passwd *pw;
	struct wr_config *cfg;

	(void)state;
	assert_int_equal(setenv("HOME", "/home/def", 1), 0);
	cfg = parse_ok("[gateway g]\nhost = h\n[tunnel t]\ntransport = relay\n");
	pw = getpwuid(geteuid());
	assert_non_null(pw);

	gw = wr_config_gateway(cfg, "g");
	assert_non_null(gw);
	assert_string_equal(gw->pub.host, "h");
	assert_int_equal(gw->pub.port, 22);
	assert_string_equal(gw->pub.user, pw->pw_name);
	assert_non_null(gw->pub.identities);
	assert_null(gw->pub.identities[0]);
	assert_null(gw->pub.passphrase_file);
	assert_int_equal(gw->pub.agent, WARREN_AGENT_AUTO);
	assert_string_equal(gw->pub.known_hosts, "/home/def/.ssh/known_hosts");
	assert_int_equal(gw->pub.host_key_check, WARREN_HOSTKEY_STRICT);
	assert_false(gw->pub.compression);
	assert_int_equal(gw->pub.keepalive_ms, 30000);
	assert_int_equal(gw->pub.keepalive_max, 3);
	assert_int_equal(gw->pub.connect_timeout_ms, 15000);
	assert_null(gw->pub.ciphers);
	assert_null(gw->pub.macs);
	assert_null(gw->pub.kex);
	assert_null(gw->pub.host_key_types);
	assert_string_equal(gw->canonical, "host=h");

	t = wr_config_tunnel(cfg, "t");
	assert_non_null(t);
	assert_int_equal(t->line, 3);
	assert_string_equal(t->transport, "relay");
	assert_int_equal(t->transport_line, 4);
	assert_null(t->gateway);
	assert_int_equal(t->gateway_line, 0);
	assert_null(t->gw);
	assert_true(t->autostart);
	assert_int_equal(t->restart, WR_RESTART_ALWAYS);
	assert_int_equal(t->retry_min_ms, 1000);
	assert_int_equal(t->retry_max_ms, 60000);
	assert_int_equal(t->nkeys, 0);
	assert_string_equal(t->canonical, "transport=relay");
	wr_config_free(cfg);
}

static void test_good_values(void **state)
{
	const struct wr_gateway_conf *gw;
	const struct wr_tunnel_conf *t;
	struct wr_config *cfg;

	(void)state;
	cfg = parse_ok("[daemon]\nlog_level = DEBUG\n"
	               "[gateway a]\n"
	               "host = [2001:db8::1]\n"
	               "port = 2222\n"
	               "agent = no\n"
	               "host_key_check = accept-new\n"
	               "compression = on\n"
	               "keepalive = 0\n"
	               "keepalive_max = 10\n"
	               "connect_timeout = 500ms\n"
	               "macs = hmac-sha2-256\n"
	               "kex = curve25519-sha256,diffie-hellman-group14-sha256\n"
	               "host_key_types = ssh-ed25519\n"
	               "[gateway b]\n"
	               "host = 2001:db8::2\n"
	               "port = 65535\n"
	               "agent = YES\n"
	               "host_key_check = off\n"
	               "keepalive_max = 4294967295\n"
	               "[tunnel t]\n"
	               "transport = relay\n"
	               "autostart = off\n"
	               "restart = on-failure\n"
	               "retry_min = 500ms\n"
	               "retry_max = 500ms\n"
	               "[tunnel u]\n"
	               "transport = relay\n"
	               "restart = Never\n"
	               "retry_max = 1h\n");
	assert_int_equal(cfg->log_level, WARREN_LOG_DEBUG);

	gw = wr_config_gateway(cfg, "a");
	assert_string_equal(gw->pub.host, "2001:db8::1");
	assert_int_equal(gw->pub.port, 2222);
	assert_int_equal(gw->pub.agent, WARREN_AGENT_NO);
	assert_int_equal(gw->pub.host_key_check, WARREN_HOSTKEY_ACCEPT_NEW);
	assert_true(gw->pub.compression);
	assert_int_equal(gw->pub.keepalive_ms, 0);
	assert_int_equal(gw->pub.keepalive_max, 10);
	assert_int_equal(gw->pub.connect_timeout_ms, 500);
	assert_null(gw->pub.ciphers);
	assert_string_equal(gw->pub.macs, "hmac-sha2-256");
	assert_string_equal(gw->pub.kex, "curve25519-sha256,diffie-hellman-group14-sha256");
	assert_string_equal(gw->pub.host_key_types, "ssh-ed25519");

	gw = wr_config_gateway(cfg, "b");
	assert_string_equal(gw->pub.host, "2001:db8::2");
	assert_int_equal(gw->pub.port, 65535);
	assert_int_equal(gw->pub.agent, WARREN_AGENT_YES);
	assert_int_equal(gw->pub.host_key_check, WARREN_HOSTKEY_OFF);
	assert_int_equal(gw->pub.keepalive_max, 4294967295u);

	t = wr_config_tunnel(cfg, "t");
	assert_false(t->autostart);
	assert_int_equal(t->restart, WR_RESTART_ON_FAILURE);
	assert_int_equal(t->retry_min_ms, 500);
	assert_int_equal(t->retry_max_ms, 500);
	t = wr_config_tunnel(cfg, "u");
	assert_int_equal(t->restart, WR_RESTART_NEVER);
	assert_int_equal(t->retry_max_ms, 3600000);
	wr_config_free(cfg);

	cfg = parse_ok("[daemon]\nlog_level = error\n");
	assert_int_equal(cfg->log_level, WARREN_LOG_ERROR);
	wr_config_free(cfg);
	cfg = parse_ok("[daemon]\nlog_level = warn\n");
	assert_int_equal(cfg->log_level, WARREN_LOG_WARN);
	wr_config_free(cfg);
}

static void test_repeated_keys(void **state)
{
	const struct wr_gateway_conf *gw;
	const struct wr_tunnel_conf *t;
	struct wr_config *cfg;

	(void)state;
	assert_int_equal(setenv("HOME", "/h", 1), 0);
	cfg = parse_ok("[gateway g]\n"
	               "identity = ~/.ssh/id_ed25519\n"
	               "host = h\n"
	               "identity = /etc/keys/a\n"
	               "identity = ~/.ssh/id_rsa\n"
	               "[tunnel t]\n"
	               "transport = ssh-forward\n"
	               "local = 1:a:2\n"
	               "remote = 3:b:4\n"
	               "local = 5:c:6\n"
	               "local = 5:c:6\n");
	gw = wr_config_gateway(cfg, "g");
	assert_string_equal(gw->pub.identities[0], "/h/.ssh/id_ed25519");
	assert_string_equal(gw->pub.identities[1], "/etc/keys/a");
	assert_string_equal(gw->pub.identities[2], "/h/.ssh/id_rsa");
	assert_null(gw->pub.identities[3]);
	assert_ptr_equal(gw->pub.identities, gw->identities);

	/* The core does not judge the transport's keys, repeated or not. */
	t = wr_config_tunnel(cfg, "t");
	assert_int_equal(t->nkeys, 4);
	assert_kv(&t->keys[0], "local", "1:a:2", 8);
	assert_kv(&t->keys[1], "remote", "3:b:4", 9);
	assert_kv(&t->keys[2], "local", "5:c:6", 10);
	assert_kv(&t->keys[3], "local", "5:c:6", 11);
	wr_config_free(cfg);
}

static void test_quoting(void **state)
{
	const struct wr_tunnel_conf *t;
	struct wr_config *cfg;

	(void)state;
	cfg = parse_ok("[tunnel t]\n"
	               "transport = \"relay\"\n"
	               "a = \"keeps # and ; inside\"\n"
	               "b = \"say \\\"hi\\\" \\\\ back\"\n"
	               "c = \"  padded  \"   \n"
	               "d = \"\"\n"
	               "e = a\"b c\"d\n"
	               "f = \"quoted\" # comment\n"
	               "g = back\\slash\n"
	               "h = path#frag\n"
	               "i = a;b\n"
	               "j = value ; comment\n"
	               "k = value\t# tab before the comment\n"
	               "l =\n"
	               "m = # nothing but a comment\n"
	               "n =#not a comment\n"
	               "o = inner   spaces   kept\n"
	               "p = x = y\n"
	               "q = \"a\" \"b\"\n"
	               "r=tight\n");
	t = wr_config_tunnel(cfg, "t");
	assert_string_equal(t->transport, "relay");
	assert_int_equal(t->nkeys, 18);
	assert_kv(&t->keys[0], "a", "keeps # and ; inside", 3);
	assert_kv(&t->keys[1], "b", "say \"hi\" \\ back", 4);
	assert_kv(&t->keys[2], "c", "  padded  ", 5);
	assert_kv(&t->keys[3], "d", "", 6);
	assert_kv(&t->keys[4], "e", "ab cd", 7);
	assert_kv(&t->keys[5], "f", "quoted", 8);
	assert_kv(&t->keys[6], "g", "back\\slash", 9);
	assert_kv(&t->keys[7], "h", "path#frag", 10);
	assert_kv(&t->keys[8], "i", "a;b", 11);
	assert_kv(&t->keys[9], "j", "value", 12);
	assert_kv(&t->keys[10], "k", "value", 13);
	assert_kv(&t->keys[11], "l", "", 14);
	assert_kv(&t->keys[12], "m", "", 15);
	assert_kv(&t->keys[13], "n", "#not a comment", 16);
	assert_kv(&t->keys[14], "o", "inner   spaces   kept", 17);
	assert_kv(&t->keys[15], "p", "x = y", 18);
	assert_kv(&t->keys[16], "q", "a b", 19);
	assert_kv(&t->keys[17], "r", "tight", 20);
	wr_config_free(cfg);
}

static void test_comments_and_layout(void **state)
{
	const struct wr_tunnel_conf *t;
	struct wr_config *cfg;

	(void)state;
	/* A byte order mark, CRLF line ends, indentation, comments of both
	 * kinds everywhere they may go, and no newline at the end. */
	cfg = parse_ok("\xef\xbb\xbf# leading comment\r\n"
	               "; semicolon comment\r\n"
	               "   # indented comment\r\n"
	               "\t; indented too\r\n"
	               "\r\n"
	               "  [tunnel t]  # after a header\r\n"
	               "\ttransport = relay ; why\r\n"
	               "  listen = 1080\r\n"
	               "[ tunnel   u ];tight comment\n"
	               "transport=relay\n"
	               "[tunnel v]#tight\n"
	               "transport = relay");
	assert_int_equal(cfg->ntunnels, 3);
	t = wr_config_tunnel(cfg, "t");
	assert_int_equal(t->line, 6);
	assert_string_equal(t->transport, "relay");
	assert_int_equal(t->nkeys, 1);
	assert_kv(&t->keys[0], "listen", "1080", 8);
	t = wr_config_tunnel(cfg, "u");
	assert_int_equal(t->line, 9);
	assert_string_equal(t->transport, "relay");
	t = wr_config_tunnel(cfg, "v");
	assert_int_equal(t->line, 11);
	assert_string_equal(t->transport, "relay");
	assert_int_equal(t->transport_line, 12);
	wr_config_free(cfg);
}

static void test_case(void **state)
{
	const struct wr_tunnel_conf *t;
	struct wr_config *cfg;

	(void)state;
	/* Keys and section types ignore case, as in git and ssh_config;
	 * names do not. */
	cfg = parse_ok("[DAEMON]\nLog_Level = Info\n"
	               "[Gateway GW]\nHost = h\nPORT = 23\n"
	               "[TUNNEL t]\nTransport = relay\nGateway = GW\nListen = 1080\n"
	               "[tunnel T]\ntransport = relay\n");
	assert_int_equal(cfg->log_level, WARREN_LOG_INFO);
	assert_non_null(wr_config_gateway(cfg, "GW"));
	assert_null(wr_config_gateway(cfg, "gw"));
	assert_int_equal(wr_config_gateway(cfg, "GW")->pub.port, 23);
	t = wr_config_tunnel(cfg, "t");
	assert_ptr_equal(t->gw, wr_config_gateway(cfg, "GW"));
	assert_kv(&t->keys[0], "listen", "1080", 9);
	assert_string_equal(t->canonical,
	                    "transport=relay\ngateway=GW\nlisten=1080\n[gateway]\nhost=h\nport=23");
	assert_non_null(wr_config_tunnel(cfg, "T"));
	assert_int_equal(cfg->ntunnels, 2);
	wr_config_free(cfg);

	EXPECT("[gateway g]\nhost = h\nHOST = i\n",
	       F "3: duplicate key 'HOST' in [gateway g] (first at line 2)");
}

static void test_home_expansion(void **state)
{
	const struct wr_gateway_conf *gw;
	struct wr_config *cfg;

	(void)state;
	assert_int_equal(setenv("HOME", "/home/x", 1), 0);
	cfg = parse_ok("[daemon]\n"
	               "plugin_dir = ~/plugins\n"
	               "control_socket = ~/run/warren.sock\n"
	               "[gateway g]\n"
	               "host = h\n"
	               "identity = ~/.ssh/key\n"
	               "identity = \"~/with space\"\n"
	               "passphrase_file = ~/pass\n"
	               "known_hosts = ~\n"
	               "[gateway k]\n"
	               "host = h\n"
	               "known_hosts = /etc/ssh/ssh_known_hosts\n"
	               "identity = relative~/x\n");
	assert_string_equal(cfg->plugin_dir, "/home/x/plugins");
	assert_string_equal(cfg->control_socket, "/home/x/run/warren.sock");
	gw = wr_config_gateway(cfg, "g");
	assert_string_equal(gw->pub.identities[0], "/home/x/.ssh/key");
	assert_string_equal(gw->pub.identities[1], "/home/x/with space");
	assert_string_equal(gw->pub.passphrase_file, "/home/x/pass");
	assert_string_equal(gw->pub.known_hosts, "/home/x");
	gw = wr_config_gateway(cfg, "k");
	assert_string_equal(gw->pub.known_hosts, "/etc/ssh/ssh_known_hosts");
	assert_string_equal(gw->pub.identities[0], "relative~/x");
	wr_config_free(cfg);
}

static void test_gateway_resolution(void **state)
{
	struct wr_config *cfg;

	(void)state;
	/* A tunnel may name a gateway defined further down. */
	cfg = parse_ok("[tunnel early]\ntransport = ssh-forward\ngateway = late\n"
	               "[gateway other]\nhost = o\n"
	               "[gateway late]\nhost = l\n");
	assert_ptr_equal(wr_config_tunnel(cfg, "early")->gw, wr_config_gateway(cfg, "late"));
	assert_ptr_equal(wr_config_tunnel(cfg, "early")->gw, &cfg->gateways[1]);
	wr_config_free(cfg);

	EXPECT("[gateway office]\nhost = h\n"
	       "[tunnel t]\ntransport = ssh-forward\ngateway = offcie\n"
	       "[tunnel u]\ngateway = nope\n",
	       F "5: unknown gateway 'offcie': there is no [gateway offcie] in the file",
	       F "6: missing required key 'transport' in [tunnel u]",
	       F "7: unknown gateway 'nope': there is no [gateway nope] in the file");
	/* A gateway that failed its own checks is still found, so the only
	 * message is about the gateway itself. */
	EXPECT("[tunnel t]\ntransport = x\ngateway = g\n[gateway g]\nhost = h\nport = 0\n",
	       F "6: bad value '0' for port: expected a number from 1 to 65535");
}

static void test_canonical(void **state)
{
	struct wr_config *a, *b, *c;
	const struct wr_tunnel_conf *ta, *tb, *tc;

	(void)state;
	a = parse_ok("[gateway g]\nhost = h\nport = 22\n"
	             "[tunnel t]\ntransport = ssh-forward\ngateway = g\nlocal = 1:x:2\n"
	             "[tunnel solo]\ntransport = relay\nlisten = 1\n");
	/* Layout, quoting, comments and key case do not change the meaning. */
	b = parse_ok("# a comment\n[gateway g]\n  HOST = \"h\"   # same host\nport=22\n\n"
	             "[tunnel t]\ntransport=ssh-forward\ngateway = \"g\"\nLocal = 1:x:2 ; c\n"
	             "[tunnel solo]\ntransport = relay\nlisten = \"1\"\n");
	/* A changed gateway changes the tunnels that use it, not the others. */
	c = parse_ok("[gateway g]\nhost = h\nport = 2222\n"
	             "[tunnel t]\ntransport = ssh-forward\ngateway = g\nlocal = 1:x:2\n"
	             "[tunnel solo]\ntransport = relay\nlisten = 1\n");

	assert_string_equal(a->gateways[0].canonical, "host=h\nport=22");
	ta = wr_config_tunnel(a, "t");
	tb = wr_config_tunnel(b, "t");
	tc = wr_config_tunnel(c, "t");
	assert_string_equal(ta->canonical, "transport=ssh-forward\ngateway=g\nlocal=1:x:2\n"
	                                   "[gateway]\nhost=h\nport=22");
	assert_string_equal(tb->canonical, ta->canonical);
	assert_string_equal(b->gateways[0].canonical, a->gateways[0].canonical);
	assert_string_not_equal(tc->canonical, ta->canonical);
	assert_string_equal(tc->canonical, "transport=ssh-forward\ngateway=g\nlocal=1:x:2\n"
	                                   "[gateway]\nhost=h\nport=2222");
	assert_string_equal(wr_config_tunnel(a, "solo")->canonical, "transport=relay\nlisten=1");
	assert_string_equal(wr_config_tunnel(b, "solo")->canonical, "transport=relay\nlisten=1");
	assert_string_equal(wr_config_tunnel(c, "solo")->canonical, "transport=relay\nlisten=1");
	wr_config_free(a);
	wr_config_free(b);
	wr_config_free(c);
}

static void test_lookup(void **state)
{
	struct wr_config *cfg;

	(void)state;
	cfg = parse_ok("[gateway a]\nhost = 1\n[gateway b]\nhost = 2\n"
	               "[tunnel a]\ntransport = r\n[tunnel c]\ntransport = r\n");
	assert_string_equal(wr_config_gateway(cfg, "a")->pub.host, "1");
	assert_string_equal(wr_config_gateway(cfg, "b")->pub.host, "2");
	assert_null(wr_config_gateway(cfg, "c"));
	assert_null(wr_config_gateway(cfg, NULL));
	assert_int_equal(wr_config_tunnel(cfg, "a")->line, 5);
	assert_int_equal(wr_config_tunnel(cfg, "c")->line, 7);
	assert_null(wr_config_tunnel(cfg, "b"));
	assert_null(wr_config_tunnel(cfg, NULL));
	wr_config_free(cfg);
}

static void test_errors_sections(void **state)
{
	char text[200], name[70];

	(void)state;
	EXPECT("[tunel x]\n", F "1: unknown section type 'tunel': " SECTIONS);
	EXPECT("\n[host gw]\n", F "2: unknown section type 'host': " SECTIONS);
	EXPECT("[]\n", F "1: empty section header: " SECTIONS);
	EXPECT("[   ]\n", F "1: empty section header: " SECTIONS);
	EXPECT("[tunnel x\n", F "1: missing ']' at the end of the section header");
	EXPECT("[tunnel x] y\n", F "1: unexpected text after the section header: 'y'");
	EXPECT("[tunnel x]]\n", F "1: unexpected text after the section header: ']'");
	EXPECT("[daemon x]\n", F "1: [daemon] takes no name, got 'x'");
	EXPECT("[daemon]\n[daemon]\n", F "2: duplicate [daemon] (first at line 1)");
	EXPECT("[gateway]\n", F "1: missing name: expected [gateway NAME]");
	EXPECT("[tunnel   ]\n", F "1: missing name: expected [tunnel NAME]");
	EXPECT("[tunnel a/b]\n",
	       F "1: bad tunnel name 'a/b': names are 1-64 characters of A-Za-z0-9._@-");
	EXPECT("[gateway a b]\n",
	       F "1: bad gateway name 'a b': names are 1-64 characters of A-Za-z0-9._@-");
	EXPECT("[tunnel \"quoted\"]\n",
	       F "1: bad tunnel name '\"quoted\"': names are 1-64 characters of A-Za-z0-9._@-");
	memset(name, 'n', 65);
	name[65] = '\0';
	snprintf(text, sizeof(text), "[tunnel %s]\n", name);
	EXPECT(text,
	       F "1: bad tunnel name "
	         "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn': names are "
	         "1-64 characters of A-Za-z0-9._@-");
	name[64] = '\0';
	snprintf(text, sizeof(text), "[tunnel %s]\ntransport = r\n", name);
	EXPECT_OK(text);

	EXPECT("[gateway g]\nhost = a\n\n[gateway g]\nhost = b\n",
	       F "4: duplicate [gateway g] (first at line 1)");
	EXPECT("[tunnel t]\ntransport = r\n[tunnel u]\ntransport = r\n[tunnel t]\ntransport = r\n",
	       F "5: duplicate [tunnel t] (first at line 1)");
	/* Gateways and tunnels are separate name spaces. */
	EXPECT_OK("[gateway same]\nhost = h\n[tunnel same]\ntransport = r\n");

	/* The keys of a rejected section are skipped, not reported again. */
	EXPECT("[tunel x]\nfoo = 1\nbar = 2\n[tunnel ok]\ntransport = r\n",
	       F "1: unknown section type 'tunel': " SECTIONS);
	EXPECT("[gateway g]\nhost = a\n[gateway g]\nbogus = b\nport = 0\n",
	       F "3: duplicate [gateway g] (first at line 1)");
	/* But lines that are not even key = value still are. */
	EXPECT("[tunel x]\ngarbage\n", F "1: unknown section type 'tunel': " SECTIONS,
	       F "2: expected 'key = value' or a [section] header, got 'garbage'");
}

static void test_errors_lines(void **state)
{
	(void)state;
	EXPECT("host = x\n", F "1: key 'host' outside a section: " SECTIONS " first");
	EXPECT("# comment\n\nplugin_dir = /x\n[daemon]\n",
	       F "3: key 'plugin_dir' outside a section: " SECTIONS " first");
	EXPECT("[daemon]\njust some words\n",
	       F "2: expected 'key = value' or a [section] header, got 'just some words'");
	EXPECT("[tunnel t]\ntransport = r\nlocal\n",
	       F "3: expected 'key = value' or a [section] header, got 'local'");
	EXPECT("[daemon]\n= info\n", F "2: empty key before '='");
	EXPECT("[daemon]\n   =\n", F "2: empty key before '='");
	EXPECT("[daemon]\nlog level = info\n",
	       F "2: bad key 'log level': keys are letters, digits, '_' and '-'");
	EXPECT("[daemon]\nlog$level = info\n",
	       F "2: bad key 'log$level': keys are letters, digits, '_' and '-'");
	EXPECT("[daemon]\n\"log_level\" = info\n",
	       F "2: bad key '\"log_level\"': keys are letters, digits, '_' and '-'");
	EXPECT("[tunnel t]\ntransport = r\ncommand = \"xterm\n",
	       F "3: unterminated quote in the value of command");
	EXPECT("[tunnel t]\ntransport = r\ncommand = \"xterm\\\"\n",
	       F "3: unterminated quote in the value of command");
	EXPECT("[tunnel t]\ntransport = r\ncommand = \"xterm\\\n",
	       F "3: unterminated quote in the value of command");
	EXPECT("[tunnel t]\ntransport = r\ncommand = a \"b\" \"c\n",
	       F "3: unterminated quote in the value of command");
	EXPECT("[tunnel t]\ntransport = r\ncommand = \"a\\nb\"\n",
	       F "3: bad escape '\\n' in the value of command: only \\\" and \\\\ are allowed "
	         "inside quotes");
	EXPECT("[tunnel t]\ntransport = r\ncommand = \"C:\\temp\"\n",
	       F "3: bad escape '\\t' in the value of command: only \\\" and \\\\ are allowed "
	         "inside quotes");
	/* A key outside a section with a broken value: the value is the
	 * first problem on the line. */
	EXPECT("x = \"open\n", F "1: unterminated quote in the value of x");
}

static void test_errors_unknown_keys(void **state)
{
	(void)state;
	EXPECT("[daemon]\nplugins = /x\n", F "2: unknown key 'plugins' in [daemon]");
	EXPECT("[daemon]\nPluginDir = /x\n", F "2: unknown key 'PluginDir' in [daemon]");
	EXPECT("[gateway office]\nhost = h\nhots = h\n",
	       F "3: unknown key 'hots' in [gateway office]");
	EXPECT("[gateway office]\nhost = h\nlocal = 1:h:2\n",
	       F "3: unknown key 'local' in [gateway office]");
	/* A tunnel's other keys belong to its transport. */
	EXPECT_OK("[tunnel t]\ntransport = r\nanything_goes = 1\n");
}

static void test_errors_duplicate_keys(void **state)
{
	(void)state;
	EXPECT("[daemon]\nlog_level = info\nlog_level = debug\n",
	       F "3: duplicate key 'log_level' in [daemon] (first at line 2)");
	EXPECT("[daemon]\nplugin_dir = /a\ncontrol_socket = /s\nplugin_dir = /b\n",
	       F "4: duplicate key 'plugin_dir' in [daemon] (first at line 2)");
	EXPECT("[daemon]\ncontrol_socket = /a\ncontrol_socket = /b\n",
	       F "3: duplicate key 'control_socket' in [daemon] (first at line 2)");
	EXPECT("[gateway gw]\nhost = h\nport = 22\nuser = u\nport = 23\n",
	       F "5: duplicate key 'port' in [gateway gw] (first at line 3)");
	EXPECT("[gateway gw]\nhost = h\nhost = h\nhost = i\n",
	       F "3: duplicate key 'host' in [gateway gw] (first at line 2)",
	       F "4: duplicate key 'host' in [gateway gw] (first at line 2)");
	EXPECT("[gateway gw]\nhost = h\nciphers = a\nciphers = b\n",
	       F "4: duplicate key 'ciphers' in [gateway gw] (first at line 3)");
	EXPECT("[tunnel t]\ntransport = r\ntransport = s\n",
	       F "3: duplicate key 'transport' in [tunnel t] (first at line 2)");
	EXPECT("[tunnel t]\ntransport = r\ngateway = g\ngateway = g\n[gateway g]\nhost = h\n",
	       F "4: duplicate key 'gateway' in [tunnel t] (first at line 3)");
	EXPECT("[tunnel t]\ntransport = r\nautostart = no\nautostart = no\n",
	       F "4: duplicate key 'autostart' in [tunnel t] (first at line 3)");
	EXPECT("[tunnel t]\ntransport = r\nrestart = never\nrestart = always\n",
	       F "4: duplicate key 'restart' in [tunnel t] (first at line 3)");
	EXPECT("[tunnel t]\ntransport = r\nretry_min = 1s\nretry_min = 2s\n",
	       F "4: duplicate key 'retry_min' in [tunnel t] (first at line 3)");
	EXPECT("[tunnel t]\ntransport = r\nretry_max = 1m\nretry_max = 2m\n",
	       F "4: duplicate key 'retry_max' in [tunnel t] (first at line 3)");
	/* The same key in two sections is no duplicate. */
	EXPECT_OK("[gateway a]\nhost = h\n[gateway b]\nhost = h\n");
}

static void test_errors_missing_required(void **state)
{
	(void)state;
	EXPECT("[gateway office]\nport = 22\n",
	       F "1: missing required key 'host' in [gateway office]");
	EXPECT("[daemon]\n\n[tunnel t]\nlocal = 1:h:2\n[gateway g]\nhost = h\n",
	       F "3: missing required key 'transport' in [tunnel t]");
	/* At the end of the file too, and for an empty section. */
	EXPECT("[gateway g]\nhost = h\n[tunnel last]\n",
	       F "3: missing required key 'transport' in [tunnel last]");
	/* A rejected value is a bad value, not a missing key. */
	EXPECT("[gateway g]\nhost = \"\"\n",
	       F "2: bad value '' for host: expected a host name or an IPv4 or IPv6 address (at "
	         "most 255 characters)");
	EXPECT("[tunnel t]\ntransport = a b\n",
	       F "2: bad value 'a b' for transport: expected a plugin name (names are 1-64 "
	         "characters of A-Za-z0-9._@-)");
}

static void test_errors_daemon_values(void **state)
{
	(void)state;
	EXPECT("[daemon]\nlog_level = verbose\n",
	       F "2: bad value 'verbose' for log_level: expected error, warn, info or debug");
	EXPECT("[daemon]\nlog_level =\n",
	       F "2: bad value '' for log_level: expected error, warn, info or debug");
	EXPECT("[daemon]\nplugin_dir = \"\"\n",
	       F "2: bad value '' for plugin_dir: expected a directory");
	EXPECT("[daemon]\ncontrol_socket =\n",
	       F "2: bad value '' for control_socket: expected a path");
}

#define HOST_SYNTAX "expected a host name or an IPv4 or IPv6 address (at most 255 characters)"

static void test_errors_gateway_values(void **state)
{
	char text[600], want[700], host[300];

	(void)state;
	EXPECT("[gateway g]\nhost = a b\n", F "2: bad value 'a b' for host: " HOST_SYNTAX);
	EXPECT("[gateway g]\nhost = [::1\n", F "2: bad value '[::1' for host: " HOST_SYNTAX);
	EXPECT("[gateway g]\nhost = []\n", F "2: bad value '[]' for host: " HOST_SYNTAX);
	EXPECT("[gateway g]\nhost = [a b]\n", F "2: bad value '[a b]' for host: " HOST_SYNTAX);
	EXPECT("[gateway g]\nhost = a]\n", F "2: bad value 'a]' for host: " HOST_SYNTAX);
	memset(host, 'h', 256);
	host[256] = '\0';
	snprintf(text, sizeof(text), "[gateway g]\nhost = %s\n", host);
	snprintf(want, sizeof(want), F "2: bad value '%s' for host: " HOST_SYNTAX, host);
	EXPECT(text, want);
	host[255] = '\0';
	snprintf(text, sizeof(text), "[gateway g]\nhost = %s\n", host);
	EXPECT_OK(text);

#define G "[gateway g]\nhost = h\n"
	EXPECT(G "port = 0\n", F "3: bad value '0' for port: expected a number from 1 to 65535");
	EXPECT(G "port = 65536\n",
	       F "3: bad value '65536' for port: expected a number from 1 to 65535");
	EXPECT(G "port = ssh\n",
	       F "3: bad value 'ssh' for port: expected a number from 1 to 65535");
	EXPECT(G "port = -22\n",
	       F "3: bad value '-22' for port: expected a number from 1 to 65535");
	EXPECT(G "port = 99999999999999999999999\n",
	       F "3: bad value '99999999999999999999999' for port: expected a number from 1 to "
	         "65535");
	EXPECT(G "port =\n", F "3: bad value '' for port: expected a number from 1 to 65535");
	EXPECT(G "user =\n", F "3: bad value '' for user: expected a user name");
	EXPECT(G "user = a b\n", F "3: bad value 'a b' for user: expected a user name");
	EXPECT(G "identity =\n", F "3: bad value '' for identity: expected a private key file");
	EXPECT(G "passphrase_file = \"\"\n",
	       F "3: bad value '' for passphrase_file: expected a file name");
	EXPECT(G "known_hosts =\n", F "3: bad value '' for known_hosts: expected a file name");
	EXPECT(G "agent = maybe\n", F "3: bad value 'maybe' for agent: expected auto, yes or no");
	EXPECT(G "host_key_check = ask\n",
	       F "3: bad value 'ask' for host_key_check: expected strict, accept-new or off");
	EXPECT(G "host_key_check = no\n",
	       F "3: bad value 'no' for host_key_check: expected strict, accept-new or off");
	EXPECT(G "compression = fast\n", F "3: bad boolean 'fast' for compression: " BOOL_SYNTAX);
	EXPECT(G "keepalive = often\n",
	       F "3: bad duration 'often' for keepalive: " DURATION_SYNTAX);
	EXPECT(G "keepalive = -1\n", F "3: bad duration '-1' for keepalive: " DURATION_SYNTAX);
	EXPECT(G "keepalive_max = 0\n",
	       F "3: bad value '0' for keepalive_max: expected a whole number of at least 1");
	EXPECT(G "keepalive_max = 4294967296\n",
	       F "3: bad value '4294967296' for keepalive_max: expected a whole number of at "
	         "least 1");
	EXPECT(G "keepalive_max = three\n",
	       F "3: bad value 'three' for keepalive_max: expected a whole number of at least 1");
	EXPECT(G "connect_timeout = 0\n",
	       F "3: bad duration '0' for connect_timeout: must be more than 0");
	EXPECT(G "connect_timeout = 0s\n",
	       F "3: bad duration '0s' for connect_timeout: must be more than 0");
	EXPECT(G "connect_timeout = 15 s\n",
	       F "3: bad duration '15 s' for connect_timeout: " DURATION_SYNTAX);
	EXPECT(G "connect_timeout = 9999999999\n",
	       F "3: bad duration '9999999999' for connect_timeout: too large (at most "
	         "2147483647s)");
	EXPECT(G "ciphers = aes128-ctr,,aes256-ctr\n",
	       F "3: bad value 'aes128-ctr,,aes256-ctr' for ciphers: expected a comma-separated "
	         "list without blanks, such as aes128-ctr,aes256-ctr");
	EXPECT(G "ciphers = aes128-ctr, aes256-ctr\n",
	       F "3: bad value 'aes128-ctr, aes256-ctr' for ciphers: expected a comma-separated "
	         "list without blanks, such as aes128-ctr,aes256-ctr");
	EXPECT(G "ciphers =\n",
	       F "3: bad value '' for ciphers: expected a comma-separated list without blanks, "
	         "such as aes128-ctr,aes256-ctr");
	EXPECT(G "macs = ,hmac-sha2-256\n",
	       F "3: bad value ',hmac-sha2-256' for macs: expected a comma-separated list without "
	         "blanks, such as hmac-sha2-256,hmac-sha2-512");
	EXPECT(G "kex = curve25519-sha256,\n",
	       F "3: bad value 'curve25519-sha256,' for kex: expected a comma-separated list "
	         "without blanks, such as curve25519-sha256,diffie-hellman-group14-sha256");
	EXPECT(G "host_key_types = ,\n",
	       F "3: bad value ',' for host_key_types: expected a comma-separated list without "
	         "blanks, such as ssh-ed25519,rsa-sha2-256");
#undef G
}

static void test_errors_tunnel_values(void **state)
{
	(void)state;
#define T "[tunnel t]\ntransport = r\n"
	EXPECT("[tunnel t]\ntransport =\n",
	       F "2: bad value '' for transport: expected a plugin name (names are 1-64 "
	         "characters of A-Za-z0-9._@-)");
	EXPECT("[tunnel t]\ntransport = ssh/forward\n",
	       F "2: bad value 'ssh/forward' for transport: expected a plugin name (names are "
	         "1-64 characters of A-Za-z0-9._@-)");
	EXPECT(T "gateway = a b\n",
	       F "3: bad value 'a b' for gateway: expected the name of a [gateway NAME] section");
	EXPECT(T "gateway =\n",
	       F "3: bad value '' for gateway: expected the name of a [gateway NAME] section");
	EXPECT(T "autostart = perhaps\n", F "3: bad boolean 'perhaps' for autostart: " BOOL_SYNTAX);
	EXPECT(T "restart = sometimes\n",
	       F "3: bad value 'sometimes' for restart: expected always, on-failure or never");
	EXPECT(T "retry_min = xx\n",
	       F "3: bad duration 'xx' for retry_min: expected a number with optional s, m or h "
	         "(30, 30s, 5m, 1h)");
	EXPECT(T "retry_min = 0\n", F "3: bad duration '0' for retry_min: must be more than 0");
	EXPECT(T "retry_max = 1 m\n", F "3: bad duration '1 m' for retry_max: " DURATION_SYNTAX);
#undef T
}

static void test_errors_retry(void **state)
{
	(void)state;
#define T "[tunnel t]\ntransport = r\n"
	EXPECT(T "retry_min = 1m\nretry_max = 30s\n",
	       F "4: retry_max 30s is less than retry_min 1m");
	/* Reported at retry_max even when it comes first. */
	EXPECT(T "retry_max = 500ms\nretry_min = 1s\n",
	       F "3: retry_max 500ms is less than retry_min 1s");
	EXPECT(T "retry_max = 500ms\n", F "3: retry_max 500ms is less than retry_min 1s");
	EXPECT(T "retry_max = 0\n", F "3: retry_max 0s is less than retry_min 1s");
	EXPECT(T "retry_min = 2m\n", F "3: retry_min 2m is more than retry_max (1m by default)");
	EXPECT(T "retry_min = 90s\n", F "3: retry_min 90s is more than retry_max (1m by default)");
	/* One mistake, one message: a rejected bound is not compared. */
	EXPECT(T "retry_min = xx\nretry_max = 500ms\n",
	       F "3: bad duration 'xx' for retry_min: " DURATION_SYNTAX);
	EXPECT(T "retry_min = 5m\nretry_max = yy\n",
	       F "4: bad duration 'yy' for retry_max: " DURATION_SYNTAX);
	EXPECT_OK(T "retry_min = 1m\nretry_max = 1m\n");
	EXPECT_OK(T "retry_min = 60s\n");
#undef T
}

static void test_errors_nul_and_long_lines(void **state)
{
	static const char with_nul[] = "[daemon]\nlog_level = in\0fo\n[tunnel t]\ntransport = r\n";
	struct warren_diag diag;
	struct wr_config *cfg;
	char *text;
	size_t i;

	(void)state;
	wr_diag_init(&diag, "test.conf");
	cfg = wr_config_parse("test.conf", with_nul, sizeof(with_nul) - 1, &diag);
	assert_non_null(cfg);
	assert_int_equal(diag.count, 1);
	assert_string_equal(diag.messages[0], F "2: NUL byte in the line: the file is not text");
	/* The lines after it are still read. */
	assert_non_null(wr_config_tunnel(cfg, "t"));
	assert_int_equal(cfg->log_level, -1);
	wr_config_free(cfg);
	wr_diag_free(&diag);

	/* 4096 characters is the longest line; 4097 is refused. */
	text = malloc(5000);
	assert_non_null(text);
	strcpy(text, "[tunnel t]\ntransport = r\nk = ");
	i = strlen(text);
	memset(text + i, 'v', 4096 - 4);
	strcpy(text + i + 4096 - 4, "\n");
	cfg = parse_ok(text);
	assert_int_equal(strlen(wr_config_tunnel(cfg, "t")->keys[0].value), 4092);
	wr_config_free(cfg);

	strcpy(text + i + 4096 - 4, "v\nafter = 1\n");
	EXPECT(text, F "3: line longer than 4096 characters");
	/* Even a comment. */
	memset(text, '#', 4097);
	strcpy(text + 4097, "\n[bad\n");
	EXPECT(text, F "1: line longer than 4096 characters",
	       F "2: missing ']' at the end of the section header");
	free(text);
}

static void test_errors_collected(void **state)
{
	struct warren_diag diag;
	struct wr_config *cfg;

	(void)state;
	/* Every problem is reported, in line order, even those found only
	 * when a section or the file ends; the good parts are still parsed. */
	EXPECT("stray = 1\n"
	       "[daemon]\n"
	       "log_level = loud\n"
	       "[gateway gw]\n"
	       "port = 0\n"
	       "agent = sometimes\n"
	       "[tunnel t]\n"
	       "gateway = elsewhere\n"
	       "retry_min = 2m\n"
	       "restart = always\n"
	       "restart = never\n"
	       "[tunnel ok]\n"
	       "transport = relay\n"
	       "[gateway gw]\n"
	       "host = h\n"
	       "bad line\n",
	       F "1: key 'stray' outside a section: " SECTIONS " first",
	       F "3: bad value 'loud' for log_level: expected error, warn, info or debug",
	       F "4: missing required key 'host' in [gateway gw]",
	       F "5: bad value '0' for port: expected a number from 1 to 65535",
	       F "6: bad value 'sometimes' for agent: expected auto, yes or no",
	       F "7: missing required key 'transport' in [tunnel t]",
	       F "8: unknown gateway 'elsewhere': there is no [gateway elsewhere] in the file",
	       F "9: retry_min 2m is more than retry_max (1m by default)",
	       F "11: duplicate key 'restart' in [tunnel t] (first at line 10)",
	       F "14: duplicate [gateway gw] (first at line 4)",
	       F "16: expected 'key = value' or a [section] header, got 'bad line'");

	cfg = parse("[gateway gw]\nport = 0\n[tunnel ok]\ntransport = relay\nlisten = 1\n", &diag);
	assert_int_equal(diag.count, 2);
	/* A partial config keeps the strings a caller may look at non-NULL. */
	assert_string_equal(cfg->gateways[0].pub.host, "");
	assert_non_null(cfg->gateways[0].pub.user);
	assert_non_null(cfg->gateways[0].pub.known_hosts);
	assert_non_null(cfg->gateways[0].canonical);
	assert_string_equal(wr_config_tunnel(cfg, "ok")->transport, "relay");
	assert_int_equal(wr_config_tunnel(cfg, "ok")->nkeys, 1);
	wr_config_free(cfg);
	wr_diag_free(&diag);

	/* The diag may already hold problems from elsewhere: they stay first. */
	wr_diag_init(&diag, "test.conf");
	wr_diag_add(&diag, 9, "earlier");
	cfg = wr_config_parse("test.conf", "[x]\n", 4, &diag);
	assert_int_equal(diag.count, 2);
	assert_string_equal(diag.messages[0], F "9: earlier");
	assert_string_equal(diag.messages[1], F "1: unknown section type 'x': " SECTIONS);
	wr_config_free(cfg);
	wr_diag_free(&diag);
}

static void add_via_vadd(struct warren_diag *diag, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_via_vadd(struct warren_diag *diag, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wr_diag_vadd(diag, line, fmt, ap);
	va_end(ap);
}

static void test_diag(void **state)
{
	struct warren_diag diag;

	(void)state;
	wr_diag_init(&diag, "/etc/warren/warren.conf");
	assert_int_equal(diag.count, 0);
	assert_null(diag.messages);
	wr_diag_add(&diag, 12, "bad %s %d", "thing", 7);
	wr_diag_add(&diag, 0, "cannot read: %s", "gone");
	add_via_vadd(&diag, 3, "via %s", "va_list");
	assert_int_equal(diag.count, 3);
	assert_string_equal(diag.messages[0], "/etc/warren/warren.conf:12: bad thing 7");
	assert_string_equal(diag.messages[1], "/etc/warren/warren.conf: cannot read: gone");
	assert_string_equal(diag.messages[2], "/etc/warren/warren.conf:3: via va_list");
	wr_diag_free(&diag);
	assert_int_equal(diag.count, 0);
	assert_null(diag.messages);
	assert_string_equal(diag.file, "/etc/warren/warren.conf");

	/* Without a file name the line still shows. */
	wr_diag_init(&diag, NULL);
	wr_diag_add(&diag, 4, "x");
	wr_diag_add(&diag, 0, "y");
	assert_string_equal(diag.messages[0], "line 4: x");
	assert_string_equal(diag.messages[1], "y");
	wr_diag_free(&diag);
	wr_diag_free(&diag); /* twice is harmless */
}

/* A fresh directory for the file tests, removed by the teardown. */
static char tmpdir[512];

static int make_tmpdir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/warren.conf", tmpdir);
	unlink(path);
	return rmdir(tmpdir);
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load(void **state)
{
	static const char text[] = "[tunnel t]\ntransport = relay\n";
	struct warren_diag diag;
	struct wr_config *cfg;
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/warren.conf", tmpdir);
	write_file(path, text, strlen(text));
	wr_diag_init(&diag, path);
	cfg = wr_config_load(path, &diag);
	assert_non_null(cfg);
	assert_int_equal(diag.count, 0);
	assert_string_equal(cfg->path, path);
	assert_string_equal(wr_config_tunnel(cfg, "t")->transport, "relay");
	wr_config_free(cfg);

	/* Problems carry the file's name. */
	write_file(path, "[tunnel t]\n", 11);
	cfg = wr_config_load(path, &diag);
	assert_non_null(cfg);
	assert_int_equal(diag.count, 1);
	assert_true(strncmp(diag.messages[0], path, strlen(path)) == 0);
	assert_string_equal(diag.messages[0] + strlen(path),
	                    ":1: missing required key 'transport' in [tunnel t]");
	wr_config_free(cfg);
	wr_diag_free(&diag);

	/* An empty file is an empty config. */
	write_file(path, "", 0);
	cfg = wr_config_load(path, &diag);
	assert_non_null(cfg);
	assert_int_equal(diag.count, 0);
	assert_int_equal(cfg->ntunnels, 0);
	wr_config_free(cfg);
}

static void expect_load_error(const char *path, const char *want)
{
	struct warren_diag diag;
	char full[700];

	wr_diag_init(&diag, path);
	assert_null(wr_config_load(path, &diag));
	assert_int_equal(diag.count, 1);
	snprintf(full, sizeof(full), "%s: %s", path, want);
	assert_string_equal(diag.messages[0], full);
	wr_diag_free(&diag);
}

static void test_load_errors(void **state)
{
	char path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	expect_load_error(path, "cannot read: No such file or directory");
	expect_load_error(tmpdir, "cannot read: Is a directory");
	if (geteuid() != 0) {
		/* root reads whatever the mode says. */
		snprintf(path, sizeof(path), "%s/warren.conf", tmpdir);
		write_file(path, "", 0);
		assert_int_equal(chmod(path, 0), 0);
		expect_load_error(path, "cannot read: Permission denied");
		assert_int_equal(unlink(path), 0);
	}
}

static void test_load_size_limit(void **state)
{
	const size_t limit = 1024 * 1024;
	struct warren_diag diag;
	struct wr_config *cfg;
	char path[600], *text;
	size_t i;

	(void)state;
	/* Comment lines of 1024 bytes, newline included. */
	text = malloc(limit + 1);
	assert_non_null(text);
	for (i = 0; i < limit; i += 1024) {
		memset(text + i, '#', 1023);
		text[i + 1023] = '\n';
	}
	snprintf(path, sizeof(path), "%s/warren.conf", tmpdir);
	write_file(path, text, limit);
	wr_diag_init(&diag, path);
	cfg = wr_config_load(path, &diag);
	assert_non_null(cfg);
	assert_int_equal(diag.count, 0);
	wr_config_free(cfg);

	text[limit] = '\n';
	write_file(path, text, limit + 1);
	free(text);
	expect_load_error(path, "too large: a config file is at most 1 MiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_good_values),
	    cmocka_unit_test(test_repeated_keys),
	    cmocka_unit_test(test_quoting),
	    cmocka_unit_test(test_comments_and_layout),
	    cmocka_unit_test(test_case),
	    cmocka_unit_test(test_home_expansion),
	    cmocka_unit_test(test_gateway_resolution),
	    cmocka_unit_test(test_canonical),
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_errors_sections),
	    cmocka_unit_test(test_errors_lines),
	    cmocka_unit_test(test_errors_unknown_keys),
	    cmocka_unit_test(test_errors_duplicate_keys),
	    cmocka_unit_test(test_errors_missing_required),
	    cmocka_unit_test(test_errors_daemon_values),
	    cmocka_unit_test(test_errors_gateway_values),
	    cmocka_unit_test(test_errors_tunnel_values),
	    cmocka_unit_test(test_errors_retry),
	    cmocka_unit_test(test_errors_nul_and_long_lines),
	    cmocka_unit_test(test_errors_collected),
	    cmocka_unit_test(test_diag),
	    cmocka_unit_test(test_load),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_size_limit),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
