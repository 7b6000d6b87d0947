/* main.c: `warren SUBCOMMAND`: global options, then the subcommand table. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "putty.h"
#include "warren-plugin.h"

struct subcommand {
	const char *name;
	int (*run)(const struct wr_options *o, int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct subcommand *find_subcommand(const char *name);

static int usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "warren: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry `warren %s%s--help`.\n", sub ? sub : "", sub ? " " : "");
	return WR_EXIT_USAGE;
}

static int run_daemon(const struct wr_options *o, int argc, char **argv)
{
	if (argc > 0)
		return usage_error("daemon", "daemon takes no arguments, got '%s'", argv[0]);
	return wr_cmd_daemon(o);
}

static int run_run(const struct wr_options *o, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--putty") != 0)
			continue;
		if (argc != 2 || i != 0)
			return usage_error("run", "%s",
					   "--putty takes one SESSION and nothing else");
		return wr_cmd_run_putty(o, argv[1]);
	}
	if (argc == 0)
		return usage_error("run", "%s", "run needs at least one tunnel name");
	return wr_cmd_run(o, argv, argc);
}

static int run_check(const struct wr_options *o, int argc, char **argv)
{
	if (argc > 0)
		return usage_error("check", "check takes no arguments, got '%s'", argv[0]);
	return wr_cmd_check(o);
}

/* Seconds between redraws: 0.1 to a day. */
static bool parse_interval(const char *text, double *seconds)
{
	char *end;
	double v = strtod(text, &end);

	if (end == text || *end || !(v >= 0.1 && v <= 86400))
		return false;
	*seconds = v;
	return true;
}

static int run_status(const struct wr_options *o, int argc, char **argv)
{
	bool json = false;
	double watch_s = 0;
	char **names = argv;
	int nnames = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--watch") == 0) {
			/* The seconds are optional: a number after --watch is
			 * taken as them (--watch=SECONDS for a tunnel named 5). */
			watch_s = 2;
			if (i + 1 < argc && parse_interval(argv[i + 1], &watch_s))
				i++;
		} else if (strncmp(argv[i], "--watch=", 8) == 0) {
			if (!parse_interval(argv[i] + 8, &watch_s))
				return usage_error("status", "bad --watch '%s': expected seconds "
							     "(0.1-86400)",
						   argv[i] + 8);
		} else if (argv[i][0] == '-') {
			return usage_error("status", "unknown option '%s'", argv[i]);
		} else {
			names[nnames++] = argv[i];
		}
	}
	if (json && watch_s > 0)
		return usage_error("status", "%s",
				   "--watch redraws the table for people; --json is for scripts");
	return wr_cmd_status(o, json, watch_s, names, nnames);
}

static int run_tunnel_verb(const char *verb, const struct wr_options *o, int argc, char **argv)
{
	const char *name = NULL;
	double wait_s = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(verb, "up") == 0 && strcmp(argv[i], "--wait") == 0) {
			char *end;

			if (i + 1 >= argc)
				return usage_error(verb, "%s needs a number of seconds", "--wait");
			wait_s = strtod(argv[++i], &end);
			if (*end || wait_s <= 0 || wait_s > 86400)
				return usage_error(verb, "bad --wait '%s': expected seconds (1-86400)",
						   argv[i]);
		} else if (argv[i][0] == '-') {
			return usage_error(verb, "unknown option '%s'", argv[i]);
		} else if (name) {
			return usage_error(verb, "one tunnel name at a time, got '%s' too", argv[i]);
		} else {
			name = argv[i];
		}
	}
	if (!name)
		return usage_error(verb, "%s needs a tunnel name", verb);
	return wr_cmd_tunnel(o, verb, name, wait_s);
}

static int run_up(const struct wr_options *o, int argc, char **argv)
{
	return run_tunnel_verb("up", o, argc, argv);
}

static int run_down(const struct wr_options *o, int argc, char **argv)
{
	return run_tunnel_verb("down", o, argc, argv);
}

static int run_restart(const struct wr_options *o, int argc, char **argv)
{
	return run_tunnel_verb("restart", o, argc, argv);
}

static int run_reload(const struct wr_options *o, int argc, char **argv)
{
	if (argc > 0)
		return usage_error("reload", "reload takes no arguments, got '%s'", argv[0]);
	return wr_cmd_reload(o);
}

static int run_plugins(const struct wr_options *o, int argc, char **argv)
{
	if (argc > 0)
		return usage_error("plugins", "plugins takes no arguments, got '%s'", argv[0]);
	return wr_cmd_plugins(o);
}

static int run_x11(const struct wr_options *o, int argc, char **argv)
{
	return wr_cmd_x11(o, argv, argc);
}

static int run_import_putty(const struct wr_options *o, int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (argv[i][0] == '-')
			return usage_error("import-putty", "unknown option '%s'", argv[i]);
	return wr_cmd_import_putty(o, argv, argc);
}

static int run_version(const struct wr_options *o, int argc, char **argv)
{
	printf("warren %s (plugin ABI %d)\n", PACKAGE_VERSION, WARREN_PLUGIN_ABI);
	return WR_EXIT_OK;
}

static int run_help(const struct wr_options *o, int argc, char **argv);

static const struct subcommand subcommands[] = {
	{"daemon", run_daemon, "daemon [-c FILE]",
	 "Run every tunnel with autostart = yes and serve the control socket.\n"
	 "Stays in the foreground and logs to stderr. SIGHUP reloads the config,\n"
	 "SIGTERM or SIGINT stop every tunnel in order."},
	{"run", run_run, "run [-c FILE] NAME... | run --putty SESSION",
	 "Run just these tunnels in the foreground, without a control socket.\n"
	 "Ctrl-C stops them cleanly. Exits 1 when every tunnel has ended by itself.\n"
	 "--putty runs the tunnels of a PuTTY saved session, as `putty -load` would."},
	{"check", run_check, "check [-c FILE]",
	 "Validate the config and the plugins it needs; print every problem as\n"
	 "FILE:LINE: message and exit 2 when there is any."},
	{"status", run_status, "status [--json] [--watch [SECONDS]] [NAME...]",
	 "Ask the daemon for the state of its tunnels: a table, or JSON for scripts.\n"
	 "On a terminal the table is coloured and fits its width. --watch redraws it\n"
	 "every SECONDS (default 2) until Ctrl-C; it exits 1 if the daemon goes away."},
	{"up", run_up, "up NAME [--wait SECONDS]",
	 "Start a tunnel. With --wait, return 0 once it is up, 1 when it fails or the\n"
	 "time runs out."},
	{"down", run_down, "down NAME", "Stop a tunnel."},
	{"restart", run_restart, "restart NAME", "Stop a tunnel and start it again."},
	{"reload", run_reload, "reload",
	 "Re-read the config: start added tunnels, stop removed ones, restart changed\n"
	 "ones; untouched tunnels keep their connections. A broken file changes nothing."},
	{"plugins", run_plugins, "plugins [--plugin-dir DIR]",
	 "List the transports found, with their ABI and version, and the files refused."},
	{"x11", run_x11, "x11 GATEWAY -- COMMAND [ARG...]",
	 "Run one X program on the gateway with its windows on the local display, as\n"
	 "`ssh -X GATEWAY COMMAND` does, without the daemon. GATEWAY is a [gateway] of\n"
	 "the config; the local display is $DISPLAY, its cookie from $XAUTHORITY (or\n"
	 "~/.Xauthority); the gateway sees only a fake cookie. The words of COMMAND\n"
	 "are joined by spaces for the remote shell, as ssh does. Its stdout and stderr\n"
	 "are passed through, its stdin is empty. Exits with the command's status, or\n"
	 "255 when it could not run or was killed by a signal."},
	{"import-putty", run_import_putty, "import-putty [SESSION...]",
	 "Print the [gateway] and [tunnel] sections that do what PuTTY saved sessions\n"
	 "do (all of them, or the ones named). What cannot be carried over is listed\n"
	 "on stderr and as comments."},
	{"version", run_version, "version", "Print the version."},
	{"help", run_help, "help [SUBCOMMAND]", "Show help."},
};

#define NSUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static const struct subcommand *find_subcommand(const char *name)
{
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		if (strcmp(subcommands[i].name, name) == 0)
			return &subcommands[i];
	return NULL;
}

static void print_global_help(FILE *f)
{
	fprintf(f, "usage: warren [OPTIONS] SUBCOMMAND [ARGS]\n\n"
		   "warren keeps named tunnels up, each carried by a transport plugin.\n\n"
		   "Subcommands:\n");
	for (size_t i = 0; i < NSUBCOMMANDS; i++)
		fprintf(f, "  %-30s\n", subcommands[i].usage);
	fprintf(f, "\nOptions (before or after the subcommand):\n"
		   "  -c FILE            config file (env WARREN_CONFIG)\n"
		   "  -S PATH            control socket (env WARREN_SOCKET)\n"
		   "  --plugin-dir DIR   transport plugins (env WARREN_PLUGIN_DIR)\n"
		   "  -v, -q             more, less log\n"
		   "  --syslog           log to syslog instead of stderr (daemon, run)\n"
		   "  -h, --help         help; `warren SUBCOMMAND --help` for one subcommand\n\n"
		   "Exit status: 0 success, 1 runtime failure, 2 usage or config error.\n");
}

static void print_sub_help(const struct subcommand *s)
{
	printf("usage: warren %s\n\n%s\n\nGlobal options: -c FILE, -S PATH, --plugin-dir DIR, "
	       "-v, -q (see `warren --help`).\n",
	       s->usage, s->help);
}

static int run_help(const struct wr_options *o, int argc, char **argv)
{
	const struct subcommand *s;

	if (argc == 0) {
		print_global_help(stdout);
		return WR_EXIT_OK;
	}
	s = find_subcommand(argv[0]);
	if (!s)
		return usage_error(NULL, "unknown subcommand '%s'", argv[0]);
	print_sub_help(s);
	return WR_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct wr_options o = {
		.config_path = getenv("WARREN_CONFIG"),
		.socket_path = getenv("WARREN_SOCKET"),
		.plugin_dir = getenv("WARREN_PLUGIN_DIR"),
	};
	const struct subcommand *sub = NULL;
	char **rest = calloc((size_t)argc + 1, sizeof(char *));
	bool help = false;
	int nrest = 0;
	int ret;

	if (!rest)
		return WR_EXIT_FAILURE;
	/* Empty environment values mean unset, as in most tools. */
	if (o.config_path && !*o.config_path)
		o.config_path = NULL;
	if (o.socket_path && !*o.socket_path)
		o.socket_path = NULL;
	if (o.plugin_dir && !*o.plugin_dir)
		o.plugin_dir = NULL;
	/* Global options may stand anywhere; what remains is the subcommand
	 * and its own arguments. "--" ends option processing. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				rest[nrest++] = argv[i];
			break;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0)
			slot = &o.config_path;
		else if (strcmp(a, "-S") == 0 || strcmp(a, "--socket") == 0)
			slot = &o.socket_path;
		else if (strcmp(a, "--plugin-dir") == 0)
			slot = &o.plugin_dir;
		if (slot) {
			if (i + 1 >= argc) {
				ret = usage_error(NULL, "%s needs a value", a);
				goto out;
			}
			*slot = argv[++i];
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			o.verbosity++;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			o.verbosity--;
		} else if (strcmp(a, "--syslog") == 0) {
			o.use_syslog = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = true;
		} else if (strcmp(a, "--version") == 0 && !sub) {
			sub = find_subcommand("version");
		} else if (!sub && a[0] != '-') {
			sub = find_subcommand(a);
			if (!sub) {
				ret = usage_error(NULL, "unknown subcommand '%s'", a);
				goto out;
			}
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if (!sub) {
		if (help) {
			print_global_help(stdout);
			ret = WR_EXIT_OK;
		} else {
			print_global_help(stderr);
			ret = WR_EXIT_USAGE;
		}
		goto out;
	}
	if (help) {
		print_sub_help(sub);
		ret = WR_EXIT_OK;
		goto out;
	}
	ret = sub->run(&o, nrest, rest);
out:
	free(rest);
	return ret;
}
