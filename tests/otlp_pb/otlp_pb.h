/* otlp_pb.h -- OTLP/JSON requests re-encoded as protobuf by protobuf-c, for
 * the tests and the decoder benchmark: an encoder that is not ours, built from
 * the .proto files of schemas/otlp at build time. */
#ifndef DAGPROF_OTLP_PB_H
#define DAGPROF_OTLP_PB_H

#include <stddef.h>

#include "buf.h"

/* Append the protobuf ExportTraceServiceRequest of the OTLP/JSON `text` to
 * `out`. 0, or -1 when the text is not JSON or out of memory. */
int otlp_pb_from_json(const char *text, size_t len, buf_t *out);

/* Spans in a protobuf request as protobuf-c unpacks it, with each span's ids
 * hex-encoded and attributes looked up (what a mapping over protobuf-c's tree
 * would do at least), or -1 when it does not unpack. For the benchmark. */
long otlp_pb_unpack_count(const void *buf, size_t len);

#endif
