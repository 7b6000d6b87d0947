/* util.c: allocation, buffers, fd flags and time formatting for the core. */
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
	fprintf(stderr, "warren: out of memory allocating %zu bytes\n", size);
	abort();
}

void *wr_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory(size);
	return p;
}

void *wr_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory(n * size);
	return p;
}

void *wr_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (!q)
		out_of_memory(size);
	return q;
}

char *wr_xstrdup(const char *s)
{
	size_t len = strlen(s) + 1;

	return memcpy(wr_xmalloc(len), s, len);
}

char *wr_xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		out_of_memory(strlen(fmt));
	return s;
}

char *wr_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = wr_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static void buf_reserve(struct wr_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap *= 2;
	b->data = wr_xrealloc(b->data, b->cap);
}

void wr_buf_append(struct wr_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void wr_buf_puts(struct wr_buf *b, const char *s)
{
	wr_buf_append(b, s, strlen(s));
}

void wr_buf_printf(struct wr_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = wr_xvasprintf(fmt, ap);
	va_end(ap);
	wr_buf_puts(b, s);
	free(s);
}

const char *wr_buf_cstr(struct wr_buf *b)
{
	buf_reserve(b, 0);
	/* An empty buffer's first reserve hands back uninitialised memory:
	 * terminate it here, not only in the appends. */
	b->data[b->len] = '\0';
	return b->data;
}

void wr_buf_free(struct wr_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int wr_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

int wr_set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

uint64_t wr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void wr_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void wr_format_bytes(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double v = (double)n;
	int unit = -1;

	if (n < 1024) {
		snprintf(buf, len, n ? "%lluB" : "0", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && unit < 4) {
		v /= 1024;
		unit++;
	}
	snprintf(buf, len, "%.1f%c", v, units[unit]);
}
