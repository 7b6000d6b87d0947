/*
 * control.h: the daemon's Unix control socket.
 *
 * Protocol, one request per connection: the client sends one line of
 * space-separated words and reads until EOF. The reply's first line is "OK"
 * or "ERR <exit status>", the rest is text for the user (or JSON).
 *   status json [NAME...]    up NAME    down NAME    restart NAME
 *   state NAME   ("<state> <last error>")     reload
 */
#ifndef WARREN_CONTROL_H
#define WARREN_CONTROL_H

#include <stddef.h>

/* Bind path (mode 0600, refusing a live daemon's socket); -1 with err. */
int wr_control_open(const char *path, char *err, size_t errlen);
void wr_control_close(void);

#endif /* WARREN_CONTROL_H */
