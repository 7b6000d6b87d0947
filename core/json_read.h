/* json_read.h: a small JSON reader (RFC 8259) for the documents warren
 * itself writes, such as `warren status --json`, read back by the CLI. */
#ifndef WARREN_JSON_READ_H
#define WARREN_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wr_jtype { WR_JNULL, WR_JBOOL, WR_JNUMBER, WR_JSTRING, WR_JARRAY, WR_JOBJECT };

struct wr_jvalue {
	enum wr_jtype type;
	bool boolean;
	/* A string's UTF-8 text (NUL-terminated; an escaped NUL is refused),
	 * or a number as written: 64-bit counters do not fit a double. */
	char *text;
	/* Array elements, or object members (keys[i] names items[i]). */
	struct wr_jvalue *items;
	char **keys;
	size_t count;
};

/* Parse a whole document (white space around it allowed, nothing else).
 * NULL with a one-line reason in err on any error. */
struct wr_jvalue *wr_jparse(const char *text, char *err, size_t errlen);
void wr_jfree(struct wr_jvalue *v);

/* An object's member, or NULL (also when v is not an object). */
const struct wr_jvalue *wr_jget(const struct wr_jvalue *v, const char *key);
/* A member's string, or NULL when absent, null or not a string. */
const char *wr_jget_string(const struct wr_jvalue *v, const char *key);
/* A member's value as an unsigned integer; def when absent or not one. */
uint64_t wr_jget_uint(const struct wr_jvalue *v, const char *key, uint64_t def);

#endif /* WARREN_JSON_READ_H */
