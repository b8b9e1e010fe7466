/* harness_invariants.h -- what every profile must satisfy, whatever its input
 * (SPEC §2, the last list), checked on the profile's JSON as a consumer reads
 * it. Shared by the property-based suite (tests/test_properties.c) and the
 * engine's fuzz target (tests/fuzz/fuzz_profile.c).
 *
 * The checks: 0 <= critical_path_us <= wall_us, 0 <= ideal_wall_us <= wall_us,
 * 0 < schedule_efficiency <= 1, parallelism = work_us / wall_us, work_us = the
 * sum of exec_us; every node inside the window, run start <= ready_us <=
 * start_us, ready_us the latest end of its dependencies (at most its start),
 * blocked_us + queued_us = start_us - run start, slack_us >= 0 and some node
 * with none; every dependency known, agreeing with the timestamps within the
 * clock-skew tolerance, and the graph acyclic (inferred edges: the input
 * started strictly before); the critical path a chain of dependencies from a
 * node without any to the latest-ending node, flagged on exactly its nodes;
 * node totals plus outside_nodes equal the run's tokens and cost. */
#ifndef DAGPROF_HARNESS_INVARIANTS_H
#define DAGPROF_HARNESS_INVARIANTS_H

#include <stddef.h>
#include <stdint.h>

/* 0 when the profile in `json` (`len` bytes) holds every invariant; else -1
 * with the first one broken, and the figures, in `why`. */
int invariants_check_json(const char *json, size_t len, int64_t clock_skew_us, char *why,
                          size_t why_size);

#endif
