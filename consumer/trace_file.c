/* trace_file.c -- read span events from JSON Lines or Avro container files.
 * See trace_file.h.
 *
 * The format is decided by peeking at the first four bytes. Standard input
 * cannot be rewound, so the peeked bytes are put back in front of the stream
 * through a small fopencookie() wrapper that both readers then consume. */
#include "trace_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <avro.h>
#include <jansson.h>

#include "buf.h"

#include "otlp.h"
#include "span_codec.h"

#define AVRO_MAGIC "Obj\x01"
#define AVRO_MAGIC_BYTES 4
#define REASON_BYTES 512
/* Enough of the start of a file to tell OTLP/JSON from span events. */
#define PEEK_BYTES 256

typedef struct peeked_stream {
    FILE *fp;
    unsigned char head[PEEK_BYTES];
    size_t head_len;
    size_t head_pos;
} peeked_stream_t;

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_error(char *errstr, size_t errstr_size, const char *fmt, ...) {
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static ssize_t peeked_read(void *cookie, char *dest, size_t size) {
    peeked_stream_t *stream = cookie;
    size_t copied = 0;
    if (stream->head_pos < stream->head_len) {
        copied = stream->head_len - stream->head_pos;
        if (copied > size)
            copied = size;
        memcpy(dest, stream->head + stream->head_pos, copied);
        stream->head_pos += copied;
        return (ssize_t)copied;
    }
    size_t n = fread(dest, 1, size, stream->fp);
    if (n == 0 && ferror(stream->fp))
        return -1;
    return (ssize_t)n;
}

static int peeked_close(void *cookie) {
    (void)cookie; /* the underlying stream belongs to the caller */
    return 0;
}

static void report(const trace_file_handler_t *handler, long record, const char *unit,
                   const char *reason) {
    char text[REASON_BYTES + 64]; /* room for the unit and the number */
    if (!handler->on_error)
        return;
    snprintf(text, sizeof(text), "%s %ld: %s", unit, record, reason);
    handler->on_error(handler->opaque, record, text);
}

static bool is_blank(const char *line, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n')
            return false;
    return true;
}

static int read_json_lines(FILE *fp, const char *name, span_codec_t *codec,
                           const trace_file_handler_t *handler, char *errstr,
                           size_t errstr_size) {
    char *line = NULL;
    size_t line_cap = 0;
    long line_number = 0;
    int rc = 0;
    ssize_t got;

    while ((got = getline(&line, &line_cap, fp)) >= 0) {
        size_t len = (size_t)got;
        char *text = line;
        char reason[REASON_BYTES];
        span_t span;

        line_number++;
        /* Editors on some systems start UTF-8 files with a byte order mark. */
        if (line_number == 1 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            text += 3;
            len -= 3;
        }
        if (is_blank(text, len))
            continue;
        if (span_codec_decode_json(codec, text, len, &span, reason, sizeof(reason)) != 0) {
            report(handler, line_number, "line", reason);
            continue;
        }
        rc = handler->on_span(handler->opaque, &span);
        if (rc != 0)
            goto done;
    }
    if (ferror(fp))
        rc = set_error(errstr, errstr_size, "%s: read error after line %ld: %s", name,
                       line_number, strerror(errno));

done:
    free(line);
    return rc;
}

/* The writer schema must at least carry the two ids as a record. */
static int check_writer_schema(avro_schema_t schema, const char *name, char *errstr,
                               size_t errstr_size) {
    if (!is_avro_record(schema) || avro_schema_record_field_get_index(schema, "trace_id") < 0 ||
        avro_schema_record_field_get_index(schema, "span_id") < 0)
        return set_error(errstr, errstr_size,
                         "%s: Avro container of records of another schema (%s), not SpanEvent",
                         name, avro_schema_type_name(schema));
    return 0;
}

static int read_avro_container(FILE *fp, const char *name, span_codec_t *codec,
                               const trace_file_handler_t *handler, char *errstr,
                               size_t errstr_size) {
    avro_file_reader_t reader = NULL;
    avro_schema_t writer_schema = NULL;
    avro_value_iface_t *iface = NULL;
    avro_value_t value;
    bool have_value = false;
    long record = 0;
    int rc = -1;

    if (avro_file_reader_fp(fp, name, 0, &reader) != 0) {
        reader = NULL;
        set_error(errstr, errstr_size, "%s: unreadable Avro container: %s", name,
                  avro_strerror());
        goto fail;
    }
    writer_schema = avro_file_reader_get_writer_schema(reader);
    if (!writer_schema) {
        set_error(errstr, errstr_size, "%s: Avro container without a schema", name);
        goto fail;
    }
    if (check_writer_schema(writer_schema, name, errstr, errstr_size) != 0)
        goto fail;
    iface = avro_generic_class_from_schema(writer_schema);
    if (!iface) {
        set_error(errstr, errstr_size, "%s: %s", name, avro_strerror());
        goto fail;
    }
    if (avro_generic_value_new(iface, &value) != 0) {
        set_error(errstr, errstr_size, "%s: %s", name, avro_strerror());
        goto fail;
    }
    have_value = true;

    for (;;) {
        char reason[REASON_BYTES];
        span_t span;
        int read_rc = avro_file_reader_read_value(reader, &value);
        if (read_rc == EOF)
            break;
        record++;
        if (read_rc != 0) {
            /* Blocks cannot be resynchronised through Avro-C: stop here. */
            snprintf(reason, sizeof(reason), "unreadable, rest of file skipped: %s",
                     avro_strerror());
            report(handler, record, "record", reason);
            break;
        }
        if (span_codec_decode_value(codec, &value, &span, reason, sizeof(reason)) != 0) {
            report(handler, record, "record", reason);
            continue;
        }
        rc = handler->on_span(handler->opaque, &span);
        if (rc != 0)
            goto fail;
    }
    rc = 0;

fail:
    if (have_value)
        avro_value_decref(&value);
    if (iface)
        avro_value_iface_decref(iface);
    if (writer_schema)
        avro_schema_decref(writer_schema);
    if (reader && avro_file_reader_close(reader) != 0 && rc == 0)
        rc = set_error(errstr, errstr_size, "%s: %s", name, avro_strerror());
    return rc;
}

/* ---- OpenTelemetry files: OTLP/JSON (a request per line, or one document)
 * and OTLP protobuf (one request; concatenated requests are one request) ---- */

typedef struct otlp_file {
    const trace_file_handler_t *handler;
    long record;
    const char *unit;
} otlp_file_t;

static int otlp_file_on_span(void *opaque, const span_t *span) {
    const otlp_file_t *file = opaque;
    return file->handler->on_span(file->handler->opaque, span);
}

static void otlp_file_on_reject(void *opaque, const char *kind, const char *reason) {
    const otlp_file_t *file = opaque;
    (void)kind; /* the reason says what was wrong */
    report(file->handler, file->record, file->unit, reason);
}

/* Whether the peeked start is an OTLP/JSON object: '{', then its first key. */
static bool looks_like_otlp_json(const unsigned char *head, size_t len) {
    size_t i = 0;
    if (len >= 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    if (i >= len || head[i] != '{')
        return false;
    i++;
    while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    return (len - i >= 15 && memcmp(head + i, "\"resourceSpans\"", 15) == 0) ||
           (len - i >= 16 && memcmp(head + i, "\"resource_spans\"", 16) == 0);
}

static int read_all(FILE *fp, const char *name, buf_t *out, char *errstr, size_t errstr_size) {
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        if (buf_append(out, chunk, n) != 0)
            return set_error(errstr, errstr_size, "%s: out of memory", name);
    if (ferror(fp))
        return set_error(errstr, errstr_size, "%s: %s", name, strerror(errno));
    return 0;
}

static int read_otlp(FILE *fp, const char *name, wire_format_t format,
                     const trace_file_handler_t *handler, char *errstr, size_t errstr_size) {
    buf_t content = BUF_INIT;
    otlp_decoder_t *decoder = NULL;
    otlp_file_t file = {handler, 1, "message"};
    char reason[REASON_BYTES];
    int rc = -1;

    if (read_all(fp, name, &content, errstr, errstr_size) != 0)
        goto done;
    decoder = otlp_decoder_new(errstr, errstr_size);
    if (!decoder)
        goto done;
    if (format == WIRE_OTLP_PROTO) {
        rc = otlp_decode_proto(decoder, content.data, content.len, otlp_file_on_span,
                               otlp_file_on_reject, &file, reason, sizeof(reason));
        if (rc == -1)
            rc = set_error(errstr, errstr_size, "%s: %s", name, reason);
        goto done;
    }
    /* OTLP/JSON: the Collector's file exporter writes one request per line;
     * a document spread over lines does not parse line by line. */
    char *text = content.data ? content.data : "";
    size_t offset = 0, len = content.len;
    bool by_line = false;
    while (offset < len) {
        char *eol = memchr(text + offset, '\n', len - offset);
        size_t line_len = eol ? (size_t)(eol - (text + offset)) : len - offset;
        if (!is_blank(text + offset, line_len)) {
            json_error_t error;
            json_t *first = json_loadb(text + offset, line_len, 0, &error);
            by_line = first != NULL;
            json_decref(first);
            break;
        }
        offset += line_len + 1;
    }
    if (!by_line) {
        file.unit = "document";
        rc = otlp_decode_json(decoder, text, len, otlp_file_on_span, otlp_file_on_reject, &file,
                              reason, sizeof(reason));
        if (rc == -1)
            rc = set_error(errstr, errstr_size, "%s: %s", name, reason);
        goto done;
    }
    file.unit = "line";
    file.record = 0;
    rc = 0;
    for (offset = 0; offset < len;) {
        char *eol = memchr(text + offset, '\n', len - offset);
        size_t line_len = eol ? (size_t)(eol - (text + offset)) : len - offset;
        file.record++;
        if (!is_blank(text + offset, line_len)) {
            int line_rc = otlp_decode_json(decoder, text + offset, line_len, otlp_file_on_span,
                                           otlp_file_on_reject, &file, reason, sizeof(reason));
            if (line_rc == -1) {
                report(handler, file.record, "line", reason);
            } else if (line_rc != 0) {
                rc = line_rc;
                goto done;
            }
        }
        offset += line_len + 1;
    }

done:
    otlp_decoder_free(decoder);
    buf_free(&content);
    return rc;
}

int trace_file_read_fp(FILE *fp, const char *name, const trace_file_handler_t *handler,
                       char *errstr, size_t errstr_size) {
    return trace_file_read_fp_as(fp, name, NULL, handler, errstr, errstr_size);
}

int trace_file_read_fp_as(FILE *fp, const char *name, const char *format,
                          const trace_file_handler_t *handler, char *errstr,
                          size_t errstr_size) {
    wire_format_t forced = WIRE_UNKNOWN;
    if (format && wire_format_parse(format, &forced) != 0)
        return set_error(errstr, errstr_size,
                         "input format %s: expected auto, avro, otlp_proto or otlp_json", format);
    peeked_stream_t stream = {.fp = fp};
    cookie_io_functions_t io = {.read = peeked_read, .close = peeked_close};
    span_codec_t *codec = NULL;
    FILE *peeked = NULL;
    int rc = -1;

    stream.head_len = fread(stream.head, 1, sizeof(stream.head), fp);
    if (stream.head_len < sizeof(stream.head) && ferror(fp)) {
        set_error(errstr, errstr_size, "%s: %s", name, strerror(errno));
        goto fail;
    }
    codec = span_codec_new(errstr, errstr_size);
    if (!codec)
        goto fail;
    peeked = fopencookie(&stream, "r", io);
    if (!peeked) {
        set_error(errstr, errstr_size, "%s: %s", name, strerror(errno));
        goto fail;
    }
    if (forced == WIRE_UNKNOWN) {
        if (looks_like_otlp_json(stream.head, stream.head_len))
            forced = WIRE_OTLP_JSON;
        else if (stream.head_len > 0 && stream.head[0] == 0x0a)
            forced = WIRE_OTLP_PROTO; /* field 1, length-delimited: never JSON or Avro */
    }
    if (forced == WIRE_OTLP_JSON || forced == WIRE_OTLP_PROTO)
        rc = read_otlp(peeked, name, forced, handler, errstr, errstr_size);
    else if (stream.head_len >= AVRO_MAGIC_BYTES &&
        memcmp(stream.head, AVRO_MAGIC, AVRO_MAGIC_BYTES) == 0)
        rc = read_avro_container(peeked, name, codec, handler, errstr, errstr_size);
    else
        rc = read_json_lines(peeked, name, codec, handler, errstr, errstr_size);

fail:
    if (peeked)
        fclose(peeked);
    span_codec_free(codec);
    return rc;
}

int trace_file_read(const char *path, const trace_file_handler_t *handler, char *errstr,
                    size_t errstr_size) {
    return trace_file_read_as(path, NULL, handler, errstr, errstr_size);
}

int trace_file_read_as(const char *path, const char *format, const trace_file_handler_t *handler,
                       char *errstr, size_t errstr_size) {
    if (strcmp(path, "-") == 0)
        return trace_file_read_fp_as(stdin, "standard input", format, handler, errstr,
                                     errstr_size);

    FILE *fp = fopen(path, "rb");
    if (!fp)
        return set_error(errstr, errstr_size, "%s: %s", path, strerror(errno));
    int rc = trace_file_read_fp_as(fp, path, format, handler, errstr, errstr_size);
    fclose(fp);
    return rc;
}
