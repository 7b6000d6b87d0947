/* json.h: a streaming JSON writer; struct warren_json is what plugins see. */
#ifndef WARREN_JSON_H
#define WARREN_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"
#include "warren-plugin.h"

#define WR_JSON_MAX_DEPTH 32

struct warren_json {
	struct wr_buf *out;
	int depth;
	bool need_comma[WR_JSON_MAX_DEPTH];
};

void wr_json_init(struct warren_json *j, struct wr_buf *out);
void wr_json_string(struct warren_json *j, const char *key, const char *value);
void wr_json_int(struct warren_json *j, const char *key, int64_t value);
void wr_json_uint(struct warren_json *j, const char *key, uint64_t value);
void wr_json_bool(struct warren_json *j, const char *key, bool value);
void wr_json_object_begin(struct warren_json *j, const char *key);
void wr_json_object_end(struct warren_json *j);
void wr_json_array_begin(struct warren_json *j, const char *key);
void wr_json_array_end(struct warren_json *j);

#endif /* WARREN_JSON_H */
