/*
 * putty.h: PuTTY's saved sessions on Unix, turned into warren config.
 *
 * PuTTY keeps one file per session in its sessions folder, named after the
 * session with every byte but A-Za-z0-9+-.@_ written as %XX, holding
 * Key=Value lines (unix/storage.c in PuTTY's source). `warren import-putty`
 * prints the [gateway] and [tunnel] sections that do what a session's
 * tunnels do; `warren run --putty SESSION` runs them, as `putty -load` would.
 * Whatever cannot be carried over is said, in the output and on stderr.
 */
#ifndef WARREN_PUTTY_H
#define WARREN_PUTTY_H

#include <stddef.h>

#include "daemon.h"
#include "util.h"

struct wr_putty_kv {
	char *key;
	char *value;
};

struct wr_putty_session {
	char *name; /* the session's name, decoded */
	char *path;
	struct wr_putty_kv *kv;
	size_t count;
};

/* Where PuTTY looks: $PUTTYSESSIONS; else the sessions folder under
 * $PUTTYDIR, else under $XDG_CONFIG_HOME/putty (~/.config/putty) when that
 * exists, else under ~/.putty. A heap string. */
char *wr_putty_sessions_dir(void);
/* A session's file name, and back (heap strings). */
char *wr_putty_encode_name(const char *session);
char *wr_putty_decode_name(const char *file_name);

/* Read a session file; -1 with the reason in err. */
int wr_putty_read(const char *path, const char *name, struct wr_putty_session *s, char *err,
                  size_t errlen);
void wr_putty_free(struct wr_putty_session *s);
/* A key's value (the first, as PuTTY takes it), or NULL. */
const char *wr_putty_get(const struct wr_putty_session *s, const char *key);

/* A warren name for a session: A-Za-z0-9._@- kept, runs of anything else
 * become one '-', at most 56 characters (room for -NN and -x11). Heap. */
char *wr_putty_warren_name(const char *session);

/* Append the sections for session s, named name, to out; each thing not
 * carried over is a line in warnings. Returns the number of [tunnel]
 * sections written, or -1 when the session cannot be converted at all (the
 * reason in warnings). The tunnels are named name (the forwards) and
 * name-x11 (X11 forwarding). */
int wr_putty_convert(const struct wr_putty_session *s, const char *name, struct wr_buf *out,
                     struct wr_buf *warnings);

int wr_cmd_import_putty(const struct wr_options *o, char *const sessions[], int nsessions);
int wr_cmd_run_putty(const struct wr_options *o, const char *session);

#endif /* WARREN_PUTTY_H */
