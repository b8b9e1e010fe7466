/* Keeps the harness library non-empty before any helper exists. */
typedef int dagprof_harness_empty_t;
