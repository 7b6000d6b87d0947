/* util.h: small helpers every core file uses: allocation that cannot fail,
 * a growable byte buffer, fd flags and time formatting. */
#ifndef WARREN_UTIL_H
#define WARREN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Allocation failure in the core is a broken invariant for a daemon this
 * size: it logs and aborts rather than limping on with half a state. */
void *wr_xmalloc(size_t size);
void *wr_xcalloc(size_t n, size_t size);
void *wr_xrealloc(void *p, size_t size);
char *wr_xstrdup(const char *s);
char *wr_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *wr_xvasprintf(const char *fmt, va_list ap);

struct wr_buf {
	char *data;
	size_t len;
	size_t cap;
};

void wr_buf_append(struct wr_buf *b, const void *data, size_t len);
void wr_buf_puts(struct wr_buf *b, const char *s);
void wr_buf_printf(struct wr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents as a NUL-terminated string (the NUL is not counted in len). */
const char *wr_buf_cstr(struct wr_buf *b);
void wr_buf_free(struct wr_buf *b);

int wr_set_nonblock(int fd);
int wr_set_cloexec(int fd);

/* Milliseconds on the monotonic clock: for timeouts and uptimes. */
uint64_t wr_now_ms(void);
/* ISO 8601 UTC, e.g. 2026-11-27T10:00:00Z, into buf (at least 21 bytes). */
void wr_format_time(time_t t, char *buf, size_t len);
/* Human form of a byte count: 0, 512B, 1.5K, 20.3M, 4.0G. */
void wr_format_bytes(uint64_t n, char *buf, size_t len);

#endif /* WARREN_UTIL_H */
