/* cli.h: the commands that talk to a running daemon over its socket. */
#ifndef WARREN_CLI_H
#define WARREN_CLI_H

#include <stdbool.h>

#include "daemon.h"

/* The table (or JSON); watch_s > 0 redraws it every watch_s seconds. */
int wr_cmd_status(const struct wr_options *o, bool json, double watch_s, char *const names[],
		  int nnames);
/* up, down, restart; wait_s > 0 (up only): wait for up, 1 on failure/time out. */
int wr_cmd_tunnel(const struct wr_options *o, const char *verb, const char *name, double wait_s);
int wr_cmd_reload(const struct wr_options *o);

#endif /* WARREN_CLI_H */
