/* plugin_loader.h: finding, checking and loading transport plugins. */
#ifndef WARREN_PLUGIN_LOADER_H
#define WARREN_PLUGIN_LOADER_H

#include <stddef.h>

#include "warren-plugin.h"

struct wr_plugin {
	char *path;
	void *handle; /* dlopen handle */
	const struct warren_transport_ops *ops;
};

/* A plugin file that could not be loaded, and why. */
struct wr_plugin_failure {
	char *path;
	char *name; /* the transport name the file would provide (its base name) */
	char *reason;
};

struct wr_plugin_set {
	char *dir;
	struct wr_plugin *plugins;
	size_t count;
	struct wr_plugin_failure *failures;
	size_t nfailures;
	char *dir_error; /* the directory itself could not be used; NULL when fine */
};

/* Load one file; on failure returns -1 with the reason in err. */
int wr_plugin_load(const char *path, const struct warren_host *host, struct wr_plugin *out,
		   char *err, size_t errlen);
void wr_plugin_unload(struct wr_plugin *p);

/* Load every *.so in dir (sorted). Failures are recorded, never fatal: the
 * tunnels that need a failed plugin fail, the rest start. Loading again with
 * the same set adds only files whose transport is not loaded yet. */
void wr_plugins_load_dir(struct wr_plugin_set *set, const char *dir,
			 const struct warren_host *host);
const struct wr_plugin *wr_plugins_find(const struct wr_plugin_set *set, const char *name);
/* Why transport `name` is unavailable: a heap string naming the file and reason. */
char *wr_plugins_why_missing(const struct wr_plugin_set *set, const char *name);
/* Unload in reverse order of loading. */
void wr_plugins_free(struct wr_plugin_set *set);

#endif /* WARREN_PLUGIN_LOADER_H */
