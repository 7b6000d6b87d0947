/*
 * fuzz.h: what every libFuzzer target in tests/fuzz/ shares.
 *
 * Each fuzz_*.c defines LLVMFuzzerTestOneInput and nothing else with
 * external linkage. It is built twice: by `make fuzz` with clang
 * -fsanitize=fuzzer,address,undefined (tests/fuzz/run.sh), and by `make
 * check` with the project's compiler, linked with replay.c, which feeds it
 * every file of its seed/regression corpus (tests/fuzz/corpus/TARGET/). A
 * crash found by fuzzing is kept as a corpus file, so it is replayed by
 * every `make check` from then on, and under ASan by the sanitizer pass.
 *
 * FUZZ_CHECK is an assertion that stays on in every build (no NDEBUG
 * games): an invariant broken is a crash the fuzzer reports.
 */
#ifndef WARREN_FUZZ_H
#define WARREN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, \
			        #cond);                                                    \
			abort();                                                           \
		}                                                                          \
	} while (0)

#endif
