/* PuTTY saved sessions, as PuTTY itself writes them on Unix (unix/storage.c
 * and settings.c in its source): file names %-encoded but for
 * A-Za-z0-9+-.@_, the sessions folder found where PuTTY looks, Key=Value
 * lines, PortForwardings as escaped KEY=VALUE entries with L/R/D, 4/6 and
 * bind-address forms. The sections printed parse as a warren config, and
 * whatever has no counterpart is reported, never dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four above first. */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "putty.h"

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/warren-test-putty-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char *cmd = wr_xasprintf("rm -rf '%s'", tmpdir);
	int rc = system(cmd);

	free(cmd);
	return rc == 0 ? 0 : -1;
}

static char *write_file(const char *name, const char *text)
{
	char *path = wr_xasprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_names_are_encoded_as_putty_does(void **state)
{
	static const char *const pairs[][2] = {
	    {"Tunnel to my telnet server", "Tunnel%20to%20my%20telnet%20server"},
	    {"a/b:c", "a%2Fb%3Ac"},
	    {"keep+-.@_09AZaz", "keep+-.@_09AZaz"},
	    {"100%", "100%25"},
	    {"caf\xc3\xa9", "caf%C3%A9"},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char *enc = wr_putty_encode_name(pairs[i][0]);
		char *dec = wr_putty_decode_name(pairs[i][1]);

		assert_string_equal(enc, pairs[i][1]);
		assert_string_equal(dec, pairs[i][0]);
		free(enc);
		free(dec);
	}
	/* An empty name is PuTTY's "Default Settings". */
	char *def = wr_putty_encode_name("");

	assert_string_equal(def, "Default%20Settings");
	free(def);
}

static void test_sessions_folder_is_where_putty_looks(void **state)
{
	char *dir, *xdg = wr_xasprintf("%s/xdg", tmpdir);
	char *want;

	setenv("HOME", tmpdir, 1);
	unsetenv("PUTTYDIR");
	unsetenv("XDG_CONFIG_HOME");
	setenv("PUTTYSESSIONS", "/somewhere/sessions", 1);
	dir = wr_putty_sessions_dir();
	assert_string_equal(dir, "/somewhere/sessions");
	free(dir);

	unsetenv("PUTTYSESSIONS");
	setenv("PUTTYDIR", "/opt/putty", 1);
	dir = wr_putty_sessions_dir();
	assert_string_equal(dir, "/opt/putty/sessions");
	free(dir);

	/* No ~/.config/putty: the old ~/.putty. */
	unsetenv("PUTTYDIR");
	dir = wr_putty_sessions_dir();
	want = wr_xasprintf("%s/.putty/sessions", tmpdir);
	assert_string_equal(dir, want);
	free(dir);
	free(want);

	/* $XDG_CONFIG_HOME/putty once it exists. */
	setenv("XDG_CONFIG_HOME", xdg, 1);
	dir = wr_putty_sessions_dir();
	want = wr_xasprintf("%s/.putty/sessions", tmpdir);
	assert_string_equal(dir, want);
	free(dir);
	free(want);
	assert_int_equal(mkdir(xdg, 0700), 0);
	want = wr_xasprintf("%s/putty", xdg);
	assert_int_equal(mkdir(want, 0700), 0);
	free(want);
	dir = wr_putty_sessions_dir();
	want = wr_xasprintf("%s/putty/sessions", xdg);
	assert_string_equal(dir, want);
	free(dir);
	free(want);
	unsetenv("XDG_CONFIG_HOME");
	free(xdg);
}

static void test_warren_names(void **state)
{
	static const char *const pairs[][2] = {
	    {"Tunnel to my telnet server", "Tunnel-to-my-telnet-server"},
	    {"  a  b!!c  ", "a-b-c"},
	    {"db.main@site_1", "db.main@site_1"},
	    {"%%%", "putty"},
	};
	char long_name[100];
	char *n;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n = wr_putty_warren_name(pairs[i][0]);
		assert_string_equal(n, pairs[i][1]);
		assert_true(wr_name_valid(n));
		free(n);
	}
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	n = wr_putty_warren_name(long_name);
	assert_int_equal(strlen(n), 56);
	free(n);
}

/* A session the way PuTTY 0.78 writes it (a trimmed selection of its keys,
 * in its order), CRLF line ends included. */
static const char telnet_session[] =
    "Present=1\r\n"
    "HostName=gw.example.com\r\n"
    "LogType=0\r\n"
    "Protocol=ssh\r\n"
    "PortNumber=2222\r\n"
    "PingInterval=1\r\n"
    "PingIntervalSecs=30\r\n"
    "Compression=1\r\n"
    "TryAgent=0\r\n"
    "AgentFwd=1\r\n"
    "UserName=leon\r\n"
    "PublicKeyFile=/home/leon/.ssh/id_ed25519\r\n"
    "RemoteCommand=\r\n"
    "X11Forward=1\r\n"
    "X11Display=localhost:1\r\n"
    "LocalPortAcceptAll=0\r\n"
    "RemotePortAcceptAll=0\r\n"
    "PortForwardings=L2323=telnetservername:23,R6000=localhost:6000,D1080,"
    "4L127.0.0.2:2323=telnetservername:23,L[::1]:8080=[fe80::1]:80,6D[::1]:1081=,"
    "Lhttp=web:80\r\n"
    "ProxyMethod=0\r\n";

static char *convert(const char *file, const char *text, const char *name, int *tunnels,
                     char **warnings)
{
	struct wr_putty_session s;
	struct wr_buf out = {0}, warn = {0};
	char err[256];
	char *path = write_file(file, text);
	char *name_decoded = wr_putty_decode_name(file);
	char *result;

	assert_int_equal(wr_putty_read(path, name_decoded, &s, err, sizeof(err)), 0);
	free(name_decoded);
	*tunnels = wr_putty_convert(&s, name, &out, &warn);
	wr_putty_free(&s);
	free(path);
	result = wr_xstrdup(out.len ? wr_buf_cstr(&out) : "");
	*warnings = wr_xstrdup(warn.len ? wr_buf_cstr(&warn) : "");
	wr_buf_free(&out);
	wr_buf_free(&warn);
	return result;
}

/* The core's parser takes the output without a problem. */
static void assert_parses(const char *text)
{
	struct warren_diag diag;
	struct wr_config *cfg;

	wr_diag_init(&diag, "import");
	cfg = wr_config_parse("import", text, strlen(text), &diag);
	for (size_t i = 0; i < diag.count; i++)
		print_error("%s\n", diag.messages[i]);
	assert_int_equal(diag.count, 0);
	wr_config_free(cfg);
	wr_diag_free(&diag);
}

static void test_telnet_session_converts(void **state)
{
	int tunnels;
	char *warnings;
	char *out = convert("Tunnel%20to%20my%20telnet%20server", telnet_session, "telnet",
	                    &tunnels, &warnings);

	assert_int_equal(tunnels, 2);
	assert_string_equal(out, "# PuTTY session \"Tunnel to my telnet server\"\n"
	                         "[gateway telnet]\n"
	                         "host = gw.example.com\n"
	                         "port = 2222\n"
	                         "user = leon\n"
	                         "identity = /home/leon/.ssh/id_ed25519\n"
	                         "agent = no\n"
	                         "compression = yes\n"
	                         "keepalive = 90s\n"
	                         "\n"
	                         "[tunnel telnet]\n"
	                         "transport = ssh-forward\n"
	                         "gateway = telnet\n"
	                         "local = 2323:telnetservername:23\n"
	                         "remote = 6000:localhost:6000\n"
	                         "dynamic = 1080\n"
	                         "local = 127.0.0.2:2323:telnetservername:23\n"
	                         "local = [::1]:8080:[fe80::1]:80\n"
	                         "dynamic = [::1]:1081\n"
	                         "\n"
	                         "[tunnel telnet-x11]\n"
	                         "transport = x11\n"
	                         "gateway = telnet\n"
	                         "display = localhost:1\n"
	                         "\n");
	assert_parses(out);
	/* Each thing without a counterpart is named. */
	assert_non_null(strstr(warnings, "AgentFwd=1"));
	assert_non_null(strstr(warnings, "'4L127.0.0.2:2323' is IPv4 only"));
	assert_non_null(strstr(warnings, "'6D[::1]:1081' is IPv6 only"));
	assert_non_null(strstr(warnings, "'Lhttp=web:80' names a service"));
	assert_null(strstr(warnings, "ProxyMethod"));
	assert_null(strstr(warnings, "RemoteCommand"));
	free(out);
	free(warnings);
}

static void test_accept_all_opens_forwards(void **state)
{
	int tunnels;
	char *warnings;
	char *out = convert("open",
	                    "HostName=leon@gw\nPortForwardings=L2323=h:23,R6000=localhost:6000,"
	                    "R10.0.0.5:6001=localhost:6001,L8\\=x=h:1\nLocalPortAcceptAll=1\n",
	                    "open", &tunnels, &warnings);

	assert_int_equal(tunnels, 1);
	/* user@host, as PuTTY's host box takes it; a bare port opened by
	 * LocalPortAcceptAll, the remote one only where PuTTY opens it. */
	assert_non_null(strstr(out, "host = gw\nport = 22\nuser = leon\n"));
	assert_non_null(strstr(out, "local = *:2323:h:23\n"));
	assert_non_null(strstr(out, "remote = 6000:localhost:6000\n"));
	assert_non_null(strstr(out, "remote = 10.0.0.5:6001:localhost:6001\n"));
	assert_non_null(strstr(out, "accept_remote_clients = yes\n"));
	/* The escaped '=' belongs to the key: port "8=x" is no port. */
	assert_non_null(strstr(warnings, "'L8=x=h:1' names a service"));
	assert_non_null(strstr(out, "# PuTTY sent no keepalives"));
	assert_parses(out);
	free(out);
	free(warnings);
}

static void test_loopback_forwards_stay_closed(void **state)
{
	int tunnels;
	char *warnings;
	char *out = convert("closed",
	                    "HostName=gw\nUserName=u\nPortForwardings=L127.0.0.2:1=h:1,"
	                    "L[::1]:2=h:2,Llocalhost:3=h:3,D4=\nRemotePortAcceptAll=1\n",
	                    "closed", &tunnels, &warnings);

	assert_int_equal(tunnels, 1);
	assert_null(strstr(out, "accept_remote_clients"));
	assert_non_null(strstr(out, "dynamic = 4\n"));
	assert_string_equal(warnings, "");
	assert_parses(out);
	free(out);
	free(warnings);
}

static void test_ppk_points_at_puttygen(void **state)
{
	char *key = write_file("office.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\n"
	                                     "Encryption: aes256-cbc\n");
	char *session = wr_xasprintf("HostName=gw\nUserName=u\nPublicKeyFile=%s\n"
	                             "PortForwardings=L1=h:1\n",
	                             key);
	char *want = wr_xasprintf("identity = %s/office\n", tmpdir);
	int tunnels;
	char *warnings;
	char *out = convert("ppk", session, "ppk", &tunnels, &warnings);

	assert_non_null(strstr(out, want));
	assert_non_null(strstr(warnings, "is an encrypted PuTTY key"));
	assert_non_null(strstr(warnings, "-O private-openssh"));
	assert_non_null(strstr(warnings, "passphrase_file"));
	free(out);
	free(warnings);
	free(want);
	free(session);
	free(key);
}

/* Unencrypted .ppk files are read by the SSH layer itself (ppk.c): kept as
 * they are, named .ppk or not; one that cannot be read here is kept with a
 * word; a key type warren cannot sign with is named. */
static void test_unencrypted_ppk_kept(void **state)
{
	static const char *const files[][3] = {
	    {"plain.ppk", "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n", ""},
	    {"plain_v2", "PuTTY-User-Key-File-2: ecdsa-sha2-nistp256\r\nEncryption: none\r\n", ""},
	    {"rsa.ppk", "PuTTY-User-Key-File-3: ssh-rsa\nEncryption: none\n", "ssh-rsa key"},
	};
	char *session, *want, *warnings, *out, *key;
	int tunnels;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		key = write_file(files[i][0], files[i][1]);
		session = wr_xasprintf("HostName=gw\nUserName=u\nPublicKeyFile=%s\n"
		                       "PortForwardings=L1=h:1\n",
		                       key);
		want = wr_xasprintf("identity = %s\n", key);
		out = convert("plainppk", session, "plainppk", &tunnels, &warnings);
		assert_non_null(strstr(out, want));
		if (*files[i][2])
			assert_non_null(strstr(warnings, files[i][2]));
		else
			assert_string_equal(warnings, "");
		assert_parses(out);
		free(out);
		free(warnings);
		free(want);
		free(session);
		free(key);
	}
	out = convert("gone", "HostName=gw\nUserName=u\nPublicKeyFile=/nowhere/k.ppk\n", "gone",
	              &tunnels, &warnings);
	assert_non_null(strstr(out, "identity = /nowhere/k.ppk\n"));
	assert_non_null(strstr(warnings, "/nowhere/k.ppk cannot be read here"));
	assert_non_null(strstr(warnings, "-O private-openssh -o '/nowhere/k'"));
	free(out);
	free(warnings);
}

static void test_what_cannot_be_converted(void **state)
{
	int tunnels;
	char *warnings;
	char *out = convert("bbs", "HostName=bbs\nProtocol=telnet\n", "bbs", &tunnels, &warnings);

	assert_int_equal(tunnels, -1);
	assert_non_null(strstr(warnings, "telnet"));
	free(out);
	free(warnings);
	out =
	    convert("nohost", "HostName=\nPortForwardings=L1=h:1\n", "nohost", &tunnels, &warnings);
	assert_int_equal(tunnels, -1);
	assert_non_null(strstr(warnings, "no host"));
	free(out);
	free(warnings);
	/* A shell session: the gateway only, and a word about it. */
	out = convert("shell", "HostName=gw\nUserName=u\nProxyMethod=5\n", "shell", &tunnels,
	              &warnings);
	assert_int_equal(tunnels, 0);
	assert_non_null(strstr(out, "[gateway shell]\n"));
	assert_null(strstr(out, "[tunnel"));
	assert_non_null(strstr(warnings, "no port forwardings"));
	assert_non_null(strstr(warnings, "ProxyMethod=5"));
	free(out);
	free(warnings);
}

static void test_missing_session_file(void **state)
{
	struct wr_putty_session s;
	char err[256];

	assert_int_equal(wr_putty_read("/nonexistent/x", "x", &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_are_encoded_as_putty_does),
	    cmocka_unit_test(test_sessions_folder_is_where_putty_looks),
	    cmocka_unit_test(test_warren_names),
	    cmocka_unit_test(test_telnet_session_converts),
	    cmocka_unit_test(test_accept_all_opens_forwards),
	    cmocka_unit_test(test_loopback_forwards_stay_closed),
	    cmocka_unit_test(test_ppk_points_at_puttygen),
	    cmocka_unit_test(test_unencrypted_ppk_kept),
	    cmocka_unit_test(test_what_cannot_be_converted),
	    cmocka_unit_test(test_missing_session_file),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
