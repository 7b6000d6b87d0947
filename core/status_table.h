/* status_table.h: `warren status` for people, drawn by the CLI from the
 * daemon's JSON so that the terminal's width and colours are the client's
 * business, not the daemon's. */
#ifndef WARREN_STATUS_TABLE_H
#define WARREN_STATUS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util.h"

struct wr_table_style {
	unsigned width; /* the terminal's columns; 0: no limit (not a terminal) */
	bool colour;    /* ANSI colours for the state */
	time_t now;     /* for ages on a terminal; 0: the current time */
};

/* Render the document of `warren status --json` as the table (columns NAME
 * TRANSPORT STATE SINCE RESTARTS IN OUT LAST-ERROR). With a width (a
 * terminal), SINCE is an age and the last error is shortened to fit. Text from the daemon is shown
 * with control characters replaced, so a peer's message cannot drive the terminal. Returns 0, or -1
 * with the reason in err. */
int wr_status_table(const char *json, const struct wr_table_style *style, struct wr_buf *out,
                    char *err, size_t errlen);

/* The style for stdout: colour on a terminal unless $NO_COLOR is set or
 * $TERM is "dumb"; the width of the terminal, else none. */
void wr_table_style_for_stdout(struct wr_table_style *style);

#endif /* WARREN_STATUS_TABLE_H */
