/* The plugin loader accepts a good transport and refuses, with the file's
 * reason, a wrong ABI, a missing entry symbol, a file that is not ELF, a
 * misnamed file, a file others may write, and a duplicate transport name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "host.h"
#include "plugin_loader.h"
#include "util.h"

/* The fixtures as libtool built them, under .libs. */
#define FIXTURE(name) FIXTURE_DIR "/.libs/" name ".so"

struct scratch {
	char dir[64];
};

static void copy_file(const char *from, const char *to, mode_t mode)
{
	FILE *in = fopen(from, "rb");
	FILE *out = fopen(to, "wb");
	char buf[8192];
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	fclose(out);
	assert_int_equal(chmod(to, mode), 0);
}

static char *scratch_path(struct scratch *s, const char *name)
{
	return wr_xasprintf("%s/%s", s->dir, name);
}

static int setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	snprintf(s->dir, sizeof(s->dir), "/tmp/warren-loader-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	chmod(s->dir, 0755);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scratch *s = *state;
	char *cmd = wr_xasprintf("rm -rf '%s'", s->dir);
	int rc = system(cmd);

	free(cmd);
	free(s);
	return rc == 0 ? 0 : -1;
}

static void expect_refusal(const char *path, const char *reason_part)
{
	struct wr_plugin p = {0};
	char err[512] = "";

	assert_int_equal(wr_plugin_load(path, wr_host_table(), &p, err, sizeof(err)), -1);
	if (!strstr(err, reason_part))
		fail_msg("reason '%s' lacks '%s'", err, reason_part);
	assert_null(p.handle);
}

static void test_good_plugin_loads(void **state)
{
	struct scratch *s = *state;
	char *path = scratch_path(s, "good.so");
	struct wr_plugin p = {0};
	char err[512] = "";

	copy_file(FIXTURE("good"), path, 0755);
	assert_int_equal(wr_plugin_load(path, wr_host_table(), &p, err, sizeof(err)), 0);
	assert_string_equal(p.ops->name, "good");
	assert_string_equal(p.ops->version, "1.2.3");
	assert_int_equal(p.ops->abi, WARREN_PLUGIN_ABI);
	assert_string_equal(p.path, path);
	wr_plugin_unload(&p);
	free(path);
}

static void test_wrong_abi_is_refused_with_both_versions(void **state)
{
	struct scratch *s = *state;
	char *path = scratch_path(s, "wrong_abi.so");
	char *want = wr_xasprintf("plugin ABI %d, but this warren speaks ABI %d",
				  WARREN_PLUGIN_ABI + 41, WARREN_PLUGIN_ABI);

	copy_file(FIXTURE("wrong_abi"), path, 0755);
	expect_refusal(path, want);
	free(want);
	free(path);
}

static void test_missing_entry_symbol_is_refused(void **state)
{
	struct scratch *s = *state;
	char *path = scratch_path(s, "no_entry.so");

	copy_file(FIXTURE("no_entry"), path, 0755);
	expect_refusal(path, "no warren_transport_entry_v1 symbol");
	free(path);
}

static void test_non_elf_file_is_refused(void **state)
{
	struct scratch *s = *state;
	char *path = scratch_path(s, "notelf.so");
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("#!/bin/sh\necho I am not a plugin\n", f);
	fclose(f);
	expect_refusal(path, "not a shared object (no ELF header)");
	free(path);
}

static void test_misnamed_file_is_refused(void **state)
{
	struct scratch *s = *state;
	char *path = scratch_path(s, "other.so");

	copy_file(FIXTURE("good"), path, 0755);
	expect_refusal(path, "provides transport 'good' but is named other.so");
	free(path);
}

static void test_file_writable_by_others_is_refused(void **state)
{
	struct scratch *s = *state;
	char *path = scratch_path(s, "good.so");

	copy_file(FIXTURE("good"), path, 0757);
	expect_refusal(path, "plugin file is writable by group or others (mode 757)");
	free(path);
}

static void test_directory_load_keeps_good_and_records_bad(void **state)
{
	struct scratch *s = *state;
	struct wr_plugin_set set = {0};
	char *good = scratch_path(s, "good.so");
	char *bad = scratch_path(s, "wrong_abi.so");
	char *why;

	copy_file(FIXTURE("good"), good, 0755);
	copy_file(FIXTURE("wrong_abi"), bad, 0755);
	wr_plugins_load_dir(&set, s->dir, wr_host_table());
	assert_int_equal(set.count, 1);
	assert_int_equal(set.nfailures, 1);
	assert_non_null(wr_plugins_find(&set, "good"));
	assert_null(wr_plugins_find(&set, "wrong_abi"));
	why = wr_plugins_why_missing(&set, "wrong_abi");
	assert_non_null(strstr(why, bad));
	assert_non_null(strstr(why, "but this warren speaks ABI"));
	free(why);
	why = wr_plugins_why_missing(&set, "nosuch");
	assert_non_null(strstr(why, "no nosuch.so in"));
	free(why);
	wr_plugins_free(&set);
	free(good);
	free(bad);
}

static void test_duplicate_transport_name_is_refused(void **state)
{
	struct scratch *s = *state;
	struct wr_plugin_set set = {0};
	char *sub = scratch_path(s, "second");
	char *first = scratch_path(s, "good.so");
	char *second = wr_xasprintf("%s/good.so", sub);

	assert_int_equal(mkdir(sub, 0755), 0);
	copy_file(FIXTURE("good"), first, 0755);
	copy_file(FIXTURE("good"), second, 0755);
	wr_plugins_load_dir(&set, s->dir, wr_host_table());
	wr_plugins_load_dir(&set, sub, wr_host_table());
	assert_int_equal(set.count, 1);
	assert_int_equal(set.nfailures, 1);
	assert_string_equal(set.failures[0].path, second);
	assert_non_null(strstr(set.failures[0].reason, "duplicate transport name"));
	wr_plugins_free(&set);
	free(sub);
	free(first);
	free(second);
}

static void test_writable_directory_is_refused(void **state)
{
	struct scratch *s = *state;
	struct wr_plugin_set set = {0};
	char *good = scratch_path(s, "good.so");

	copy_file(FIXTURE("good"), good, 0755);
	assert_int_equal(chmod(s->dir, 0777), 0);
	wr_plugins_load_dir(&set, s->dir, wr_host_table());
	assert_int_equal(set.count, 0);
	assert_non_null(set.dir_error);
	assert_non_null(strstr(set.dir_error, "writable by group or others"));
	wr_plugins_free(&set);
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_plugin_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_abi_is_refused_with_both_versions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_entry_symbol_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_non_elf_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misnamed_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_writable_by_others_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_directory_load_keeps_good_and_records_bad,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_transport_name_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writable_directory_is_refused, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
