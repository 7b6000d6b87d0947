/* status_table.c: the status table, from JSON (status_table.h). */
#include "status_table.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "json_read.h"

enum {
	COL_NAME,
	COL_TRANSPORT,
	COL_STATE,
	COL_SINCE,
	COL_RESTARTS,
	COL_IN,
	COL_OUT,
	COL_ERROR,
	NCOLS
};

static const char *const headers[NCOLS] = {"NAME",     "TRANSPORT", "STATE", "SINCE",
                                           "RESTARTS", "IN",        "OUT",   "LAST-ERROR"};
/* Counts read better aligned on the right. */
static const bool right_aligned[NCOLS] = {[COL_RESTARTS] = true, [COL_IN] = true, [COL_OUT] = true};
/* The last error is cut to the room left, but never below this: "x..." */
#define MIN_ERROR_WIDTH 4

#define GREEN  "\033[32m"
#define YELLOW "\033[33m"
#define RED    "\033[31m"
#define RESET  "\033[0m"

/* Columns taken by UTF-8 text: one per code point (wide characters are
 * rare in error messages; a wrong guess costs one column). */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* A copy fit for a terminal: control characters become '?'. */
static char *printable(const char *s)
{
	char *copy = wr_xstrdup(s ? s : "-");

	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return copy;
}

/* Cut s to at most width columns, "..." marking the cut. */
static void cut(char *s, size_t width)
{
	size_t cols = 0;
	char *p;

	if (text_width(s) <= width)
		return;
	for (p = s; *p; p++) {
		if (((unsigned char)*p & 0xc0) == 0x80)
			continue;
		if (cols == width - 3)
			break;
		cols++;
	}
	strcpy(p, "...");
}

/* On a terminal SINCE is an age ("5m ago"): a third of the width of the
 * timestamp, and what people want to know. Scripts get the timestamp. */
static char *since_cell(const char *iso, bool terminal, time_t now)
{
	struct tm tm = {0};
	const char *end;
	time_t t;
	long age;

	if (!iso || !terminal)
		return printable(iso);
	end = strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return printable(iso);
	t = timegm(&tm);
	age = now > t ? (long)(now - t) : 0;
	if (age < 60)
		return wr_xasprintf("%lds ago", age);
	if (age < 3600)
		return wr_xasprintf("%ldm ago", age / 60);
	if (age < 86400)
		return wr_xasprintf("%ldh ago", age / 3600);
	return wr_xasprintf("%ldd ago", age / 86400);
}

static const char *state_colour(const char *state)
{
	if (strcmp(state, "up") == 0)
		return GREEN;
	if (strcmp(state, "failed") == 0)
		return RED;
	if (strcmp(state, "degraded") == 0 || strcmp(state, "retrying") == 0 ||
	    strcmp(state, "connecting") == 0 || strcmp(state, "stopping") == 0)
		return YELLOW;
	return NULL;
}

static void put_cell(struct wr_buf *out, const char *text, size_t width, bool right,
                     const char *colour)
{
	size_t pad = width - text_width(text);

	if (right)
		wr_buf_printf(out, "%*s", (int)pad, "");
	if (colour)
		wr_buf_printf(out, "%s%s%s", colour, text, RESET);
	else
		wr_buf_puts(out, text);
	if (!right)
		wr_buf_printf(out, "%*s", (int)pad, "");
}

int wr_status_table(const char *json, const struct wr_table_style *style, struct wr_buf *out,
                    char *err, size_t errlen)
{
	struct wr_jvalue *doc = wr_jparse(json, err, errlen);
	const struct wr_jvalue *tunnels = wr_jget(doc, "tunnels");
	size_t width[NCOLS], nrows, prefix, room;
	char *(*cells)[NCOLS];
	char *header_error;

	if (!doc)
		return -1;
	if (!tunnels || tunnels->type != WR_JARRAY) {
		snprintf(err, errlen, "no \"tunnels\" list in the daemon's answer");
		wr_jfree(doc);
		return -1;
	}
	nrows = tunnels->count;
	cells = wr_xcalloc(nrows ? nrows : 1, sizeof(*cells));
	for (size_t c = 0; c < NCOLS; c++)
		width[c] = strlen(headers[c]);
	for (size_t r = 0; r < nrows; r++) {
		const struct wr_jvalue *t = &tunnels->items[r];
		char number[32];

		cells[r][COL_NAME] = printable(wr_jget_string(t, "name"));
		cells[r][COL_TRANSPORT] = printable(wr_jget_string(t, "transport"));
		cells[r][COL_STATE] = printable(wr_jget_string(t, "state"));
		cells[r][COL_SINCE] = since_cell(wr_jget_string(t, "since"), style->width > 0,
		                                 style->now ? style->now : time(NULL));
		snprintf(number, sizeof(number), "%" PRIu64, wr_jget_uint(t, "restarts", 0));
		cells[r][COL_RESTARTS] = wr_xstrdup(number);
		wr_format_bytes(wr_jget_uint(t, "bytes_in", 0), number, sizeof(number));
		cells[r][COL_IN] = wr_xstrdup(number);
		wr_format_bytes(wr_jget_uint(t, "bytes_out", 0), number, sizeof(number));
		cells[r][COL_OUT] = wr_xstrdup(number);
		cells[r][COL_ERROR] = printable(wr_jget_string(t, "last_error"));
		for (size_t c = 0; c < COL_ERROR; c++)
			if (text_width(cells[r][c]) > width[c])
				width[c] = text_width(cells[r][c]);
	}
	/* One space between columns, two before the last error. */
	prefix = 1;
	for (size_t c = 0; c < COL_ERROR; c++)
		prefix += width[c] + 1;
	room = style->width > prefix + MIN_ERROR_WIDTH ? style->width - prefix : MIN_ERROR_WIDTH;
	header_error = wr_xstrdup(headers[COL_ERROR]);
	if (style->width) {
		cut(header_error, room);
		for (size_t r = 0; r < nrows; r++)
			cut(cells[r][COL_ERROR], room);
	}
	for (size_t r = 0; r <= nrows; r++) {
		for (size_t c = 0; c < COL_ERROR; c++) {
			const char *text = r == 0 ? headers[c] : cells[r - 1][c];
			const char *colour =
			    r > 0 && c == COL_STATE && style->colour ? state_colour(text) : NULL;

			put_cell(out, text, width[c], right_aligned[c], colour);
			wr_buf_puts(out, " ");
		}
		wr_buf_printf(out, " %s\n", r == 0 ? header_error : cells[r - 1][COL_ERROR]);
	}
	free(header_error);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < NCOLS; c++)
			free(cells[r][c]);
	free(cells);
	wr_jfree(doc);
	return 0;
}

void wr_table_style_for_stdout(struct wr_table_style *style)
{
	const char *no_colour = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	struct winsize ws;

	memset(style, 0, sizeof(*style));
	if (!isatty(STDOUT_FILENO))
		return;
	/* no-color.org: set and not empty means no colour. */
	style->colour = !(no_colour && *no_colour) && !(term && strcmp(term, "dumb") == 0);
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		style->width = ws.ws_col;
	else
		style->width = 80;
}
