/* log.h: the core's logger. Levels as in warren-plugin.h; lines go to stderr
 * (with syslog priority prefixes when stderr is the journal) or to syslog. */
#ifndef WARREN_LOG_H
#define WARREN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "warren-plugin.h"

void wr_log_init(enum warren_log_level level, bool use_syslog);
void wr_log_set_level(enum warren_log_level level);
enum warren_log_level wr_log_get_level(void);
bool wr_log_enabled(enum warren_log_level level);
/* prefix (a tunnel name) may be NULL. */
void wr_vlog(enum warren_log_level level, const char *prefix, const char *fmt, va_list ap);
void wr_log(enum warren_log_level level, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int wr_log_level_parse(const char *text); /* -1 when unknown */
const char *wr_log_level_name(enum warren_log_level level);

#define log_error(...) wr_log(WARREN_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) wr_log(WARREN_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) wr_log(WARREN_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) wr_log(WARREN_LOG_DEBUG, NULL, __VA_ARGS__)

#endif /* WARREN_LOG_H */
