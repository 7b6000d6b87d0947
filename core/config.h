/*
 * config.h: the warren config file (INI) parsed into a validated model.
 *
 * The core owns [daemon], [gateway NAME] and the core keys of [tunnel NAME]
 * (transport, gateway, autostart, restart, retry_min, retry_max). Every other
 * key of a tunnel is kept, with its line, for the transport's config_parse.
 * Every problem is collected in a wr_diag as FILE:LINE: message; parsing goes
 * on after an error so that one run reports them all.
 */
#ifndef WARREN_CONFIG_H
#define WARREN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "warren-plugin.h"

/* Collected problems, FILE:LINE: message each. struct warren_diag is the
 * plugin-visible name of the same thing. */
struct warren_diag {
	char **messages; /* "FILE:LINE: message", heap strings */
	size_t count;
	const char *file; /* the file being checked, for messages */
};

void wr_diag_init(struct warren_diag *diag, const char *file);
void wr_diag_add(struct warren_diag *diag, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void wr_diag_vadd(struct warren_diag *diag, int line, const char *fmt, va_list ap);
void wr_diag_free(struct warren_diag *diag);

enum wr_restart {
	WR_RESTART_ALWAYS = 0,
	WR_RESTART_ON_FAILURE = 1,
	WR_RESTART_NEVER = 2,
};

struct wr_gateway_conf {
	char *name;
	int line;
	struct warren_gateway pub; /* what plugins see; strings point into owned copies */
	char **identities;         /* owned, NULL-terminated; pub.identities points here */
	char *canonical;           /* every key=value in file order: reload compares these */
};

struct wr_tunnel_conf {
	char *name;
	int line;                  /* the [tunnel NAME] line */
	char *transport;
	int transport_line;
	char *gateway;             /* NULL when not given */
	int gateway_line;
	const struct wr_gateway_conf *gw; /* resolved; NULL when gateway is NULL */
	bool autostart;            /* default yes */
	enum wr_restart restart;   /* default always */
	uint64_t retry_min_ms;     /* default 1000 */
	uint64_t retry_max_ms;     /* default 60000 */
	struct warren_kv *keys;    /* the transport's keys, file order; strings owned */
	size_t nkeys;
	char *canonical;           /* every key=value in file order plus the gateway's canonical */
};

struct wr_config {
	char *path;
	char *plugin_dir;          /* NULL: not set in the file */
	char *control_socket;      /* NULL: not set in the file */
	int log_level;             /* -1: not set; else enum warren_log_level */
	struct wr_gateway_conf *gateways;
	size_t ngateways;
	struct wr_tunnel_conf *tunnels;
	size_t ntunnels;
};

/* Parse text (len bytes, may hold NULs: an error) that came from path.
 * Returns a config (possibly partial) and adds every problem to diag; the
 * config is usable only when diag->count is 0. Never returns NULL except on
 * memory exhaustion. */
struct wr_config *wr_config_parse(const char *path, const char *text, size_t len,
				  struct warren_diag *diag);
/* Read and parse a file; an unreadable file is one diag entry ("FILE: cannot
 * read: strerror") and NULL. */
struct wr_config *wr_config_load(const char *path, struct warren_diag *diag);
void wr_config_free(struct wr_config *cfg);

const struct wr_tunnel_conf *wr_config_tunnel(const struct wr_config *cfg, const char *name);
const struct wr_gateway_conf *wr_config_gateway(const struct wr_config *cfg, const char *name);

/* Value parsers shared by the config and the plugins (through the host
 * table). Each returns 0, or -1 with a one-line message in err. */
int wr_parse_duration_ms(const char *text, uint64_t *ms, char *err, size_t errlen);
int wr_parse_bool(const char *text, bool *value, char *err, size_t errlen);
int wr_parse_endpoint(const char *text, enum warren_spec_kind kind,
		      struct warren_endpoint_spec *spec, char *err, size_t errlen);
/* The same duration and boolean checks for callers that word the message
 * themselves (the config says which key): NULL when text is good, else why
 * not, a static string such as "expected yes or no (...)". */
const char *wr_duration_check(const char *text, uint64_t *ms);
const char *wr_bool_check(const char *text, bool *value);
bool wr_is_loopback(const char *address);
bool wr_name_valid(const char *name); /* 1-64 of A-Za-z0-9._@- */
/* ~ or ~/x expanded with $HOME (or the passwd entry); a heap string. */
char *wr_expand_home(const char *path);

#endif /* WARREN_CONFIG_H */
