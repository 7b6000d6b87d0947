/* json.c: the status writer. It never fails: a plugin that nests too deep or
 * closes too much gets clamped output rather than a crashed daemon. */
#include "json.h"

#include <stdio.h>

void wr_json_init(struct warren_json *j, struct wr_buf *out)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
}

static void put_escaped(struct wr_buf *b, const char *s)
{
	wr_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			wr_buf_puts(b, "\\\"");
			break;
		case '\\':
			wr_buf_puts(b, "\\\\");
			break;
		case '\n':
			wr_buf_puts(b, "\\n");
			break;
		case '\t':
			wr_buf_puts(b, "\\t");
			break;
		case '\r':
			wr_buf_puts(b, "\\r");
			break;
		default:
			if (*p < 0x20)
				wr_buf_printf(b, "\\u%04x", *p);
			else
				wr_buf_append(b, p, 1);
		}
	}
	wr_buf_puts(b, "\"");
}

/* The separator and key that come before any value. */
static void begin_value(struct warren_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		wr_buf_puts(j->out, ", ");
	j->need_comma[j->depth] = true;
	if (key) {
		put_escaped(j->out, key);
		wr_buf_puts(j->out, ": ");
	}
}

void wr_json_string(struct warren_json *j, const char *key, const char *value)
{
	begin_value(j, key);
	if (value)
		put_escaped(j->out, value);
	else
		wr_buf_puts(j->out, "null");
}

void wr_json_int(struct warren_json *j, const char *key, int64_t value)
{
	begin_value(j, key);
	wr_buf_printf(j->out, "%lld", (long long)value);
}

void wr_json_uint(struct warren_json *j, const char *key, uint64_t value)
{
	begin_value(j, key);
	wr_buf_printf(j->out, "%llu", (unsigned long long)value);
}

void wr_json_bool(struct warren_json *j, const char *key, bool value)
{
	begin_value(j, key);
	wr_buf_puts(j->out, value ? "true" : "false");
}

static void open_container(struct warren_json *j, const char *key, const char *bracket)
{
	begin_value(j, key);
	wr_buf_puts(j->out, bracket);
	if (j->depth < WR_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_container(struct warren_json *j, const char *bracket)
{
	wr_buf_puts(j->out, bracket);
	if (j->depth > 0)
		j->depth--;
}

void wr_json_object_begin(struct warren_json *j, const char *key)
{
	open_container(j, key, "{");
}

void wr_json_object_end(struct warren_json *j)
{
	close_container(j, "}");
}

void wr_json_array_begin(struct warren_json *j, const char *key)
{
	open_container(j, key, "[");
}

void wr_json_array_end(struct warren_json *j)
{
	close_container(j, "]");
}
