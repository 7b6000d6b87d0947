/*
 * replay.c: the main() of a fuzz target built by `make check` (no libFuzzer):
 * it runs LLVMFuzzerTestOneInput once on every file of the directories or
 * files named on the command line, or of FUZZ_CORPUS_DIR when none is, and
 * prints a line per file. A file that crashes it crashes the test, which is
 * how every crash a fuzzing campaign found stays fixed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (1 << 20)

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	size_t n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	data = malloc(REPLAY_MAX_INPUT);
	if (!data)
		abort();
	n = fread(data, 1, REPLAY_MAX_INPUT, f);
	fclose(f);
	/* An exact-size copy: ASan then sees a read past the input. */
	{
		uint8_t *copy = malloc(n ? n : 1);

		if (!copy)
			abort();
		memcpy(copy, data, n);
		free(data);
		LLVMFuzzerTestOneInput(copy, n);
		free(copy);
	}
	printf("ok %s (%zu bytes)\n", path, n);
	return 0;
}

static int replay_path(const char *path, int *count)
{
	struct dirent **names;
	struct stat st;
	char sub[4096];
	int i, n, rc = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
				(*count)++;
				if (replay_file(sub) != 0)
					rc = -1;
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int i, count = 0, rc = 0;

	if (argc < 2) {
#ifdef FUZZ_CORPUS_DIR
		rc = replay_path(FUZZ_CORPUS_DIR, &count);
#else
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
#endif
	}
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) != 0)
			rc = -1;
	if (count == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replayed %d input(s)\n", count);
	return rc == 0 ? 0 : 1;
}
