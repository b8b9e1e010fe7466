/* trace_file.h -- read the span events of a trace file (dagprof profile).
 *
 * A trace file is either JSON Lines (one span event object per line) or an
 * Avro object container file of SpanEvent records; the format is detected
 * from the first bytes ("Obj\x01" is Avro), so standard input works too.
 * Spans are handed to a callback one at a time; a malformed record is
 * reported and skipped, and reading goes on. */
#ifndef DAGPROF_TRACE_FILE_H
#define DAGPROF_TRACE_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "span.h"

typedef struct trace_file_handler {
    /* Called for each good span; the span and its strings are valid only
     * during the call. A non-zero return stops reading and is returned by
     * trace_file_read() as is. */
    int (*on_span)(void *opaque, const span_t *span);
    /* Called for each malformed record, then reading continues. `record` is
     * the 1-based line number (JSON Lines) or record number (Avro); `reason`
     * is self-contained, e.g. "line 3: trace_id: missing". May be NULL. */
    void (*on_error)(void *opaque, long record, const char *reason);
    void *opaque;
} trace_file_handler_t;

/* Read the file at `path` ("-" is standard input). Returns 0 when the file
 * was read to its end (malformed records included), the non-zero value an
 * on_span call returned, or -1 with errstr naming the path when the file
 * cannot be opened or read, or is an Avro file of another schema. A corrupt
 * Avro block is reported through on_error and ends reading. */
int trace_file_read(const char *path, const trace_file_handler_t *handler, char *errstr,
                    size_t errstr_size);

/* The same on an open stream, which is read to its end and not closed.
 * `name` is used in messages. */
int trace_file_read_fp(FILE *fp, const char *name, const trace_file_handler_t *handler,
                       char *errstr, size_t errstr_size);

/* The same with the format forced (`format` "avro": span events as above;
 * "otlp_proto" or "otlp_json": OpenTelemetry, see otlp.h) or detected (NULL or
 * "auto"): a file starting with an OTLP/JSON object ('{' then
 * "resourceSpans") is OTLP/JSON, read as one request per line (the
 * Collector's file exporter) or as one document; one starting with byte 0x0a
 * (protobuf field 1, length-delimited) is one OTLP protobuf request. Spans an
 * OTLP decoder rejects are reported through on_error ("line 3: span ...:
 * ..."), and reading goes on. An unknown format name is -1 with errstr. */
int trace_file_read_as(const char *path, const char *format, const trace_file_handler_t *handler,
                       char *errstr, size_t errstr_size);
int trace_file_read_fp_as(FILE *fp, const char *name, const char *format,
                          const trace_file_handler_t *handler, char *errstr, size_t errstr_size);

#endif
