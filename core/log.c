/* log.c: levelled logging to stderr, the journal or syslog. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum warren_log_level current_level = WARREN_LOG_INFO;
static bool to_syslog;
/* Under systemd stderr goes to the journal, which stamps the time itself and
 * reads a "<N>" prefix as the priority (sd-daemon(3)). */
static bool to_journal;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void wr_log_init(enum warren_log_level level, bool use_syslog)
{
	current_level = level;
	to_syslog = use_syslog;
	to_journal = getenv("JOURNAL_STREAM") != NULL;
	if (to_syslog)
		openlog("warren", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void wr_log_set_level(enum warren_log_level level)
{
	current_level = level;
}

enum warren_log_level wr_log_get_level(void)
{
	return current_level;
}

bool wr_log_enabled(enum warren_log_level level)
{
	return level <= current_level;
}

int wr_log_level_parse(const char *text)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(text, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *wr_log_level_name(enum warren_log_level level)
{
	return level <= WARREN_LOG_DEBUG ? level_names[level] : "?";
}

void wr_vlog(enum warren_log_level level, const char *prefix, const char *fmt, va_list ap)
{
	char message[2048];
	char stamp[32];
	struct tm tm;
	time_t now;

	if (!wr_log_enabled(level))
		return;
	vsnprintf(message, sizeof(message), fmt, ap);
	/* One line per message: a peer's text must not forge log lines. */
	for (char *p = message; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (to_syslog) {
		syslog(syslog_priorities[level], "%s%s%s", prefix ? prefix : "", prefix ? ": " : "",
		       message);
		return;
	}
	if (to_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", syslog_priorities[level], prefix ? prefix : "",
			prefix ? ": " : "", message);
		return;
	}
	now = time(NULL);
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s warren %s: %s%s%s\n", stamp, level_names[level], prefix ? prefix : "",
		prefix ? ": " : "", message);
}

void wr_log(enum warren_log_level level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wr_vlog(level, prefix, fmt, ap);
	va_end(ap);
}
