/* A tiny libFuzzer target for tests/fuzz/scripts/test_fuzz_scripts.sh, which
 * tests the fuzzing scripts themselves (campaign, CI runs, speed table) in
 * seconds instead of on the real harnesses.
 * Built with TOY_CRASH: aborts on any input starting with '!' (found within a
 * few hundred executions). Without it: a few nested branches for the corpus
 * to grow on, and an abort only on the one input whose FNV-1a hash is
 * TOY_MAGIC ("cairn-regression\n"), which the fuzzer does not find by itself
 * but a regression input can hold. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define TOY_MAGIC 0x8ca68368f4fadfa4ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef TOY_CRASH
    if (size > 0 && data[0] == '!')
        abort();
#endif
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    if (h == TOY_MAGIC)
        abort();
    if (size > 2 && data[0] == 'c') {
        g_sink = 1;
        if (data[1] == 'a') {
            g_sink = 2;
            if (data[2] == 'i')
                g_sink = 3;
        }
    }
    return 0;
}
