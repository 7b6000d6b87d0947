/* plugin_loader.c: dlopen transports and check them before trusting them. */
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

/* A plugin runs inside the daemon with its rights: one that others could
 * have replaced is refused, as OpenSSH refuses loose key files. */
static int check_not_writable_by_others(const char *path, const char *what, char *err,
					size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s is writable by group or others (mode %03o): refusing it",
			 what, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/* A file that is not ELF would give dlopen's "invalid ELF header" at best;
 * say plainly what it is. */
static int check_elf(const char *path, char *err, size_t errlen)
{
	unsigned char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n != (ssize_t)sizeof(magic) || memcmp(magic, "\177ELF", 4) != 0) {
		snprintf(err, errlen, "not a shared object (no ELF header)");
		return -1;
	}
	return 0;
}

/* "dir/ssh-forward.so" -> "ssh-forward" */
static char *name_from_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t len = strlen(base);

	if (len > 3 && strcmp(base + len - 3, ".so") == 0)
		len -= 3;
	char *name = wr_xmalloc(len + 1);

	memcpy(name, base, len);
	name[len] = '\0';
	return name;
}

int wr_plugin_load(const char *path, const struct warren_host *host, struct wr_plugin *out,
		   char *err, size_t errlen)
{
	const struct warren_transport_ops *ops;
	warren_entry_fn entry;
	char *file_name = name_from_path(path);
	void *handle = NULL;
	int ret = -1;

	if (check_not_writable_by_others(path, "plugin file", err, errlen) < 0)
		goto out;
	if (check_elf(path, err, errlen) < 0)
		goto out;
	/* RTLD_LOCAL: two plugins never see each other's symbols. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		snprintf(err, errlen, "cannot load: %s", dlerror());
		goto out;
	}
	*(void **)&entry = dlsym(handle, WARREN_PLUGIN_ENTRY_NAME);
	if (!entry) {
		snprintf(err, errlen,
			 "no %s symbol: not a warren transport, or built for another ABI "
			 "(this warren speaks ABI %d)",
			 WARREN_PLUGIN_ENTRY_NAME, WARREN_PLUGIN_ABI);
		goto out;
	}
	ops = entry(host);
	if (!ops) {
		snprintf(err, errlen, "the plugin refused to load (see the log above)");
		goto out;
	}
	if (ops->abi != WARREN_PLUGIN_ABI) {
		snprintf(err, errlen, "plugin ABI %u, but this warren speaks ABI %d", ops->abi,
			 WARREN_PLUGIN_ABI);
		goto out;
	}
	if (ops->size < sizeof(*ops)) {
		snprintf(err, errlen, "ops table of %u bytes is smaller than ABI %d's %zu",
			 ops->size, WARREN_PLUGIN_ABI, sizeof(*ops));
		goto out;
	}
	if (!ops->name || !wr_name_valid(ops->name)) {
		snprintf(err, errlen, "the plugin's transport name is missing or invalid");
		goto out;
	}
	if (strcmp(ops->name, file_name) != 0) {
		snprintf(err, errlen, "the file provides transport '%s' but is named %s.so",
			 ops->name, file_name);
		goto out;
	}
	if (!ops->config_parse || !ops->config_free || !ops->create || !ops->start ||
	    !ops->stop || !ops->destroy) {
		snprintf(err, errlen, "the ops table lacks a required callback");
		goto out;
	}
	out->path = wr_xstrdup(path);
	out->handle = handle;
	out->ops = ops;
	handle = NULL;
	ret = 0;
out:
	if (handle)
		dlclose(handle);
	free(file_name);
	return ret;
}

void wr_plugin_unload(struct wr_plugin *p)
{
	if (p->handle)
		dlclose(p->handle);
	free(p->path);
	p->path = NULL;
	p->handle = NULL;
	p->ops = NULL;
}

const struct wr_plugin *wr_plugins_find(const struct wr_plugin_set *set, const char *name)
{
	for (size_t i = 0; i < set->count; i++)
		if (strcmp(set->plugins[i].ops->name, name) == 0)
			return &set->plugins[i];
	return NULL;
}

static void add_failure(struct wr_plugin_set *set, const char *path, const char *reason)
{
	struct wr_plugin_failure *f;

	set->failures = wr_xrealloc(set->failures, (set->nfailures + 1) * sizeof(*set->failures));
	f = &set->failures[set->nfailures++];
	f->path = wr_xstrdup(path);
	f->name = name_from_path(path);
	f->reason = wr_xstrdup(reason);
	wr_log(WARREN_LOG_WARN, NULL, "plugin %s: %s", path, reason);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void wr_plugins_load_dir(struct wr_plugin_set *set, const char *dir,
			 const struct warren_host *host)
{
	char err[512];
	char **names = NULL;
	size_t nnames = 0;
	struct dirent *de;
	DIR *d;

	if (!set->dir)
		set->dir = wr_xstrdup(dir);
	if (check_not_writable_by_others(dir, "plugin directory", err, sizeof(err)) < 0) {
		free(set->dir_error);
		set->dir_error = wr_xasprintf("plugin directory %s: %s", dir, err);
		wr_log(WARREN_LOG_WARN, NULL, "%s", set->dir_error);
		return;
	}
	d = opendir(dir);
	if (!d) {
		free(set->dir_error);
		set->dir_error = wr_xasprintf("plugin directory %s: %s", dir, strerror(errno));
		wr_log(WARREN_LOG_WARN, NULL, "%s", set->dir_error);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 3 && strcmp(de->d_name + len - 3, ".so") == 0) {
			names = wr_xrealloc(names, (nnames + 1) * sizeof(*names));
			names[nnames++] = wr_xstrdup(de->d_name);
		}
	}
	closedir(d);
	/* An empty directory leaves names NULL: qsort's pointer must not be. */
	if (nnames > 1)
		qsort(names, nnames, sizeof(*names), compare_names);
	for (size_t i = 0; i < nnames; i++) {
		char *path = wr_xasprintf("%s/%s", dir, names[i]);
		char *name = name_from_path(path);
		const struct wr_plugin *loaded = wr_plugins_find(set, name);
		struct wr_plugin p;

		if (loaded) {
			if (strcmp(loaded->path, path) != 0)
				add_failure(set, path, "duplicate transport name (already loaded)");
		} else if (wr_plugin_load(path, host, &p, err, sizeof(err)) < 0) {
			add_failure(set, path, err);
		} else {
			set->plugins = wr_xrealloc(set->plugins,
						   (set->count + 1) * sizeof(*set->plugins));
			set->plugins[set->count++] = p;
			wr_log(WARREN_LOG_DEBUG, NULL, "loaded transport %s %s from %s",
			       p.ops->name, p.ops->version ? p.ops->version : "?", path);
		}
		free(name);
		free(path);
		free(names[i]);
	}
	free(names);
}

char *wr_plugins_why_missing(const struct wr_plugin_set *set, const char *name)
{
	for (size_t i = set->nfailures; i-- > 0;)
		if (strcmp(set->failures[i].name, name) == 0)
			return wr_xasprintf("transport '%s' unavailable: %s: %s", name,
					    set->failures[i].path, set->failures[i].reason);
	if (set->dir_error)
		return wr_xasprintf("transport '%s' unavailable: %s", name, set->dir_error);
	return wr_xasprintf("transport '%s' unavailable: no %s.so in %s", name, name,
			    set->dir ? set->dir : "(no plugin directory)");
}

void wr_plugins_free(struct wr_plugin_set *set)
{
	for (size_t i = set->count; i-- > 0;)
		wr_plugin_unload(&set->plugins[i]);
	free(set->plugins);
	for (size_t i = 0; i < set->nfailures; i++) {
		free(set->failures[i].path);
		free(set->failures[i].name);
		free(set->failures[i].reason);
	}
	free(set->failures);
	free(set->dir);
	free(set->dir_error);
	memset(set, 0, sizeof(*set));
}
