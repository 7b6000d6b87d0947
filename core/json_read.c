/* json_read.c: a recursive-descent JSON reader with a depth bound. */
#include "json_read.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Deeper than anything warren writes; it keeps a hostile document from
 * exhausting the stack. */
#define MAX_DEPTH 64

struct reader {
	const char *p;
	char *err;
	size_t errlen;
	bool failed;
};

static void fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed)
		return;
	r->failed = true;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errlen, fmt, ap);
	va_end(ap);
}

static void skip_ws(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void put_utf8(struct wr_buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	wr_buf_append(b, u, n);
}

/* \uXXXX, with a surrogate pair read as one code point. */
static int unicode_escape(struct reader *r, struct wr_buf *b)
{
	unsigned cp, low;

	if (hex4(r->p, &cp) < 0)
		return -1;
	r->p += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &low) < 0 || low < 0xdc00 ||
		    low > 0xdfff)
			return -1;
		r->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
	} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
		return -1; /* a lone low surrogate, or a NUL C strings cannot hold */
	}
	put_utf8(b, cp);
	return 0;
}

static char *parse_string(struct reader *r)
{
	struct wr_buf b = {0};
	char *s;

	r->p++; /* the opening quote */
	while (*r->p != '"') {
		unsigned char c = (unsigned char)*r->p;

		if (c == '\0' || c < 0x20) {
			fail(r, c ? "control character in a string" : "unterminated string");
			goto bad;
		}
		if (c != '\\') {
			wr_buf_append(&b, r->p++, 1);
			continue;
		}
		r->p++;
		switch (*r->p++) {
		case '"':
			wr_buf_puts(&b, "\"");
			break;
		case '\\':
			wr_buf_puts(&b, "\\");
			break;
		case '/':
			wr_buf_puts(&b, "/");
			break;
		case 'b':
			wr_buf_puts(&b, "\b");
			break;
		case 'f':
			wr_buf_puts(&b, "\f");
			break;
		case 'n':
			wr_buf_puts(&b, "\n");
			break;
		case 'r':
			wr_buf_puts(&b, "\r");
			break;
		case 't':
			wr_buf_puts(&b, "\t");
			break;
		case 'u':
			if (unicode_escape(r, &b) == 0)
				break;
			/* fall through */
		default:
			fail(r, "bad escape in a string");
			goto bad;
		}
	}
	r->p++;
	s = wr_xstrdup(wr_buf_cstr(&b));
	wr_buf_free(&b);
	return s;
bad:
	wr_buf_free(&b);
	return NULL;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? kept as text. */
static char *parse_number(struct reader *r)
{
	const char *start = r->p;
	char *s;

	if (*r->p == '-')
		r->p++;
	if (*r->p == '0')
		r->p++;
	else if (*r->p >= '1' && *r->p <= '9')
		while (*r->p >= '0' && *r->p <= '9')
			r->p++;
	else
		goto bad;
	if (*r->p == '.') {
		r->p++;
		if (*r->p < '0' || *r->p > '9')
			goto bad;
		while (*r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (*r->p == 'e' || *r->p == 'E') {
		r->p++;
		if (*r->p == '+' || *r->p == '-')
			r->p++;
		if (*r->p < '0' || *r->p > '9')
			goto bad;
		while (*r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	s = wr_xmalloc((size_t)(r->p - start) + 1);
	memcpy(s, start, (size_t)(r->p - start));
	s[r->p - start] = '\0';
	return s;
bad:
	fail(r, "bad number");
	return NULL;
}

static void parse_value(struct reader *r, struct wr_jvalue *v, int depth);

/* An array or object: items (and keys) grow as members come. */
static void parse_container(struct reader *r, struct wr_jvalue *v, int depth)
{
	bool object = *r->p == '{';
	char close = object ? '}' : ']';

	v->type = object ? WR_JOBJECT : WR_JARRAY;
	if (depth >= MAX_DEPTH) {
		fail(r, "nested deeper than %d", MAX_DEPTH);
		return;
	}
	r->p++;
	skip_ws(r);
	if (*r->p == close) {
		r->p++;
		return;
	}
	for (;;) {
		char *key = NULL;

		skip_ws(r);
		if (object) {
			if (*r->p != '"') {
				fail(r, "expected a member name");
				return;
			}
			key = parse_string(r);
			if (!key)
				return;
			skip_ws(r);
			if (*r->p != ':') {
				free(key);
				fail(r, "expected ':' after a member name");
				return;
			}
			r->p++;
		}
		v->items = wr_xrealloc(v->items, (v->count + 1) * sizeof(*v->items));
		if (object)
			v->keys = wr_xrealloc(v->keys, (v->count + 1) * sizeof(*v->keys));
		memset(&v->items[v->count], 0, sizeof(*v->items));
		if (object)
			v->keys[v->count] = key;
		v->count++;
		parse_value(r, &v->items[v->count - 1], depth + 1);
		if (r->failed)
			return;
		skip_ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		if (*r->p == close) {
			r->p++;
			return;
		}
		fail(r, "expected ',' or '%c'", close);
		return;
	}
}

static bool take_word(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if (strncmp(r->p, word, n) != 0)
		return false;
	r->p += n;
	return true;
}

static void parse_value(struct reader *r, struct wr_jvalue *v, int depth)
{
	skip_ws(r);
	switch (*r->p) {
	case '{':
	case '[':
		parse_container(r, v, depth);
		return;
	case '"':
		v->type = WR_JSTRING;
		v->text = parse_string(r);
		return;
	case 't':
	case 'f':
		v->type = WR_JBOOL;
		v->boolean = *r->p == 't';
		if (!take_word(r, v->boolean ? "true" : "false"))
			fail(r, "unexpected word");
		return;
	case 'n':
		v->type = WR_JNULL;
		if (!take_word(r, "null"))
			fail(r, "unexpected word");
		return;
	default:
		v->type = WR_JNUMBER;
		v->text = parse_number(r);
		return;
	}
}

static void free_members(struct wr_jvalue *v)
{
	for (size_t i = 0; i < v->count; i++) {
		free_members(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
}

void wr_jfree(struct wr_jvalue *v)
{
	if (!v)
		return;
	free_members(v);
	free(v);
}

struct wr_jvalue *wr_jparse(const char *text, char *err, size_t errlen)
{
	struct reader r = {.p = text, .err = err, .errlen = errlen};
	struct wr_jvalue *v = wr_xcalloc(1, sizeof(*v));

	parse_value(&r, v, 0);
	skip_ws(&r);
	if (!r.failed && *r.p != '\0')
		fail(&r, "unexpected text after the document");
	if (r.failed) {
		size_t at = (size_t)(r.p - text);
		size_t len = strlen(err);

		snprintf(err + len, errlen - len, " at byte %zu", at);
		wr_jfree(v);
		return NULL;
	}
	return v;
}

const struct wr_jvalue *wr_jget(const struct wr_jvalue *v, const char *key)
{
	if (!v || v->type != WR_JOBJECT)
		return NULL;
	for (size_t i = 0; i < v->count; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const char *wr_jget_string(const struct wr_jvalue *v, const char *key)
{
	const struct wr_jvalue *m = wr_jget(v, key);

	return m && m->type == WR_JSTRING ? m->text : NULL;
}

uint64_t wr_jget_uint(const struct wr_jvalue *v, const char *key, uint64_t def)
{
	const struct wr_jvalue *m = wr_jget(v, key);
	unsigned long long n;
	char *end;

	if (!m || m->type != WR_JNUMBER || m->text[0] == '-')
		return def;
	errno = 0;
	n = strtoull(m->text, &end, 10);
	if (errno || *end)
		return def;
	return n;
}
