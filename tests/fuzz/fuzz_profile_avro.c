/* fuzz_profile_avro.c -- libFuzzer target: profile_avro_decode on arbitrary bytes.
 *
 * What `dagprof tail` does with a message of the output topic: decode it as a
 * Profile record (bare or Confluent-framed) and print it as JSON or as the
 * text report. A record that decodes is then put through the same checks as
 * fuzz_profile.c: JSON write -> read -> write gives the same bytes, Avro
 * encode -> decode gives the same profile, and every report is valid UTF-8
 * with no control characters from the record. Any difference aborts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_checks.h"
#include "profile.h"
#include "profile_avro.h"
#include "profile_json.h"
#include "report.h"

/* Created once and reused like `dagprof tail` reuses it; the process exits
 * when fuzzing ends. */
static profile_avro_t *avro;

/* ---- the target ------------------------------------------------------------ */

/* Avro-C packs the fields of a generic record without alignment, so the
 * pointers to the strings a reused profile_avro_t holds between inputs sit at
 * unaligned addresses; LeakSanitizer only follows aligned pointers by default
 * and would report those strings as leaked. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) {
    return "use_unaligned=1";
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[512] = "";
    (void)argc;
    (void)argv;
    avro = profile_avro_new(err, sizeof(err));
    if (!avro)
        fuzz_fail("profile_avro_new", err);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512] = "";
    profile_t *profile = NULL;
    buf_t json = BUF_INIT;

    if (profile_avro_decode(avro, data, size, &profile, err, sizeof(err)) != 0) {
        if (profile)
            fuzz_fail("profile_avro_decode", "failed but returned a profile");
        if (!err[0])
            fuzz_fail("profile_avro_decode", "failed without a reason");
        return 0;
    }
    fuzz_check_json(profile, &json);
    fuzz_check_reports(profile);
    fuzz_check_avro(avro, profile, &json);

    buf_free(&json);
    profile_free(profile);
    return 0;
}
