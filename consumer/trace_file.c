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

#include "span_codec.h"

#define AVRO_MAGIC "Obj\x01"
#define AVRO_MAGIC_BYTES 4
#define REASON_BYTES 512

typedef struct peeked_stream {
    FILE *fp;
    unsigned char head[AVRO_MAGIC_BYTES];
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

int trace_file_read_fp(FILE *fp, const char *name, const trace_file_handler_t *handler,
                       char *errstr, size_t errstr_size) {
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
    if (stream.head_len == AVRO_MAGIC_BYTES &&
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
    if (strcmp(path, "-") == 0)
        return trace_file_read_fp(stdin, "standard input", handler, errstr, errstr_size);

    FILE *fp = fopen(path, "rb");
    if (!fp)
        return set_error(errstr, errstr_size, "%s: %s", path, strerror(errno));
    int rc = trace_file_read_fp(fp, path, handler, errstr, errstr_size);
    fclose(fp);
    return rc;
}
