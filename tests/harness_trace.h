/* harness_trace.h -- traces built by hand in the engine suites.
 *
 * test_profile and test_engine_cases write small traces span by span, with
 * figures worked out on paper, and look up what the profile says of a node;
 * these are the few building blocks both use, so a trace reads the same in
 * either suite.
 *
 * Every helper aborts the running test (ck_assert) when the engine refuses
 * what a test meant to be valid. The prefix is htrace_ because trace_ is the
 * engine's own (trace.h). */
#ifndef DAGPROF_HARNESS_TRACE_H
#define DAGPROF_HARNESS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "trace.h"
#include "trace_file.h"

/* A span of trace "t1", status OK, nothing else set. */
span_t htrace_span(const char *id, const char *parent, const char *node, span_kind_t kind,
                   int64_t start, int64_t end);

/* Adds s; the test fails unless the trace takes it. */
void htrace_add(trace_t *t, span_t s);

/* Adds node span `id` (node `id`, parent "run") depending on deps[0..ndeps). */
void htrace_add_node(trace_t *t, const char *id, int64_t start, int64_t end,
                     const char *const *deps, size_t ndeps);

/* Node `id` of the profile; the test fails when there is none. */
const profile_node_t *htrace_node(const profile_t *p, const char *id);

/* Whether a warning of the profile contains `text`. */
int htrace_has_warning(const profile_t *p, const char *text);

/* A trace_file_read() handler that adds every span to `t` and fails the test
 * on any malformed record: fixtures are meant to be clean. */
trace_file_handler_t htrace_file_handler(trace_t *t);

#endif
