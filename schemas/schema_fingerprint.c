/* schema_fingerprint.c -- Parsing Canonical Form and CRC-64-AVRO. See
 * schema_fingerprint.h. The form follows the Avro specification's
 * transformations ([PRIMITIVES], [FULLNAMES], [STRIP], [ORDER], [STRINGS],
 * [WHITESPACE]); Avro-C has no canonical-form writer (avro_schema_to_json
 * keeps namespaces and short names), so it is written here with jansson. */
#include "schema_fingerprint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SCHEMA_FP_EMPTY 0xc15d213aa4d7a795ULL

static const char *const primitives[] = {"null", "boolean", "int", "long", "float",
                                         "double", "bytes", "string"};

static int is_primitive(const char *name) {
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (strcmp(name, primitives[i]) == 0)
            return 1;
    return 0;
}

typedef struct canon {
    buf_t *out;
    char *errstr;
    size_t errstr_size;
    int failed;
} canon_t;

static void canon_put(canon_t *c, const char *text) {
    if (!c->failed && buf_puts(c->out, text) != 0)
        c->failed = 1;
}

static void canon_string(canon_t *c, const char *text) {
    json_t *s = json_string(text);
    char *enc = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (!enc)
        c->failed = 1;
    else
        canon_put(c, enc);
    free(enc);
    json_decref(s);
}

static int canon_fail(canon_t *c, const char *problem) {
    if (!c->failed)
        snprintf(c->errstr, c->errstr_size, "not an Avro schema: %s", problem);
    c->failed = 1;
    return -1;
}

/* `name` resolved against the enclosing namespace into `full`. */
static void full_name(const char *name, const char *ns, char *full, size_t size) {
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(full, size, "%s", name);
    else
        snprintf(full, size, "%s.%s", ns, name);
}

static int canon_schema(canon_t *c, json_t *schema, const char *ns);

static int canon_named(canon_t *c, json_t *schema, const char *type, const char *ns) {
    const char *name = json_string_value(json_object_get(schema, "name"));
    if (!name)
        return canon_fail(c, "a named type without a name");
    const char *own_ns = json_string_value(json_object_get(schema, "namespace"));
    char full[512];
    full_name(name, own_ns ? own_ns : ns, full, sizeof(full));
    /* names inside take the namespace of this full name */
    char inner_ns[512];
    const char *dot = strrchr(full, '.');
    snprintf(inner_ns, sizeof(inner_ns), "%.*s", dot ? (int)(dot - full) : 0, full);
    canon_put(c, "{\"name\":");
    canon_string(c, full);
    canon_put(c, ",\"type\":");
    canon_string(c, type);
    if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0) {
        json_t *fields = json_object_get(schema, "fields");
        if (!json_is_array(fields))
            return canon_fail(c, "a record without fields");
        canon_put(c, ",\"fields\":[");
        for (size_t i = 0; i < json_array_size(fields); i++) {
            json_t *field = json_array_get(fields, i);
            const char *fname = json_string_value(json_object_get(field, "name"));
            json_t *ftype = json_object_get(field, "type");
            if (!fname || !ftype)
                return canon_fail(c, "a field without name or type");
            canon_put(c, i ? ",{\"name\":" : "{\"name\":");
            canon_string(c, fname);
            canon_put(c, ",\"type\":");
            if (canon_schema(c, ftype, inner_ns) != 0)
                return -1;
            canon_put(c, "}");
        }
        canon_put(c, "]");
    } else if (strcmp(type, "enum") == 0) {
        json_t *symbols = json_object_get(schema, "symbols");
        if (!json_is_array(symbols))
            return canon_fail(c, "an enum without symbols");
        canon_put(c, ",\"symbols\":[");
        for (size_t i = 0; i < json_array_size(symbols); i++) {
            const char *symbol = json_string_value(json_array_get(symbols, i));
            if (!symbol)
                return canon_fail(c, "an enum symbol that is not a string");
            if (i)
                canon_put(c, ",");
            canon_string(c, symbol);
        }
        canon_put(c, "]");
    } else { /* fixed */
        json_t *size = json_object_get(schema, "size");
        if (!json_is_integer(size))
            return canon_fail(c, "a fixed without size");
        char text[32];
        snprintf(text, sizeof(text), ",\"size\":%" JSON_INTEGER_FORMAT, json_integer_value(size));
        canon_put(c, text);
    }
    canon_put(c, "}");
    return c->failed ? -1 : 0;
}

static int canon_schema(canon_t *c, json_t *schema, const char *ns) {
    if (json_is_string(schema)) {
        const char *name = json_string_value(schema);
        if (is_primitive(name)) {
            canon_string(c, name);
        } else {
            char full[512];
            full_name(name, ns, full, sizeof(full));
            canon_string(c, full);
        }
        return c->failed ? -1 : 0;
    }
    if (json_is_array(schema)) {
        canon_put(c, "[");
        for (size_t i = 0; i < json_array_size(schema); i++) {
            if (i)
                canon_put(c, ",");
            if (canon_schema(c, json_array_get(schema, i), ns) != 0)
                return -1;
        }
        canon_put(c, "]");
        return c->failed ? -1 : 0;
    }
    if (!json_is_object(schema))
        return canon_fail(c, "a schema that is neither a name, a union nor an object");
    json_t *type_json = json_object_get(schema, "type");
    if (!json_is_string(type_json)) /* {"type": {...}} wraps another schema */
        return type_json ? canon_schema(c, type_json, ns) : canon_fail(c, "an object without type");
    const char *type = json_string_value(type_json);
    if (is_primitive(type)) {
        canon_string(c, type);
    } else if (strcmp(type, "array") == 0 || strcmp(type, "map") == 0) {
        const char *key = type[0] == 'a' ? "items" : "values";
        json_t *inner = json_object_get(schema, key);
        if (!inner)
            return canon_fail(c, type[0] == 'a' ? "an array without items" : "a map without values");
        canon_put(c, "{\"type\":");
        canon_string(c, type);
        canon_put(c, type[0] == 'a' ? ",\"items\":" : ",\"values\":");
        if (canon_schema(c, inner, ns) != 0)
            return -1;
        canon_put(c, "}");
    } else if (strcmp(type, "record") == 0 || strcmp(type, "error") == 0 ||
               strcmp(type, "enum") == 0 || strcmp(type, "fixed") == 0) {
        return canon_named(c, schema, type, ns);
    } else {
        canon_string(c, type); /* a reference to a named type: "type": "dagprof.Tokens" */
    }
    return c->failed ? -1 : 0;
}

int schema_canonical_form(const char *schema_json, buf_t *out, char *errstr, size_t errstr_size) {
    json_error_t jerr;
    size_t start_len = out->len;
    json_t *root = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!root) {
        snprintf(errstr, errstr_size, "schema is not JSON: %s (line %d)", jerr.text, jerr.line);
        return -1;
    }
    canon_t c = {out, errstr, errstr_size, 0};
    int rc = canon_schema(&c, root, "");
    json_decref(root);
    if (rc != 0 || c.failed) {
        if (!errstr[0] || rc == 0)
            snprintf(errstr, errstr_size, "out of memory");
        buf_truncate(out, start_len);
        return -1;
    }
    return 0;
}

uint64_t schema_fingerprint64(const void *data, size_t len) {
    uint64_t table[256];
    for (int i = 0; i < 256; i++) {
        uint64_t fp = (uint64_t)i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (SCHEMA_FP_EMPTY & (0 - (fp & 1)));
        table[i] = fp;
    }
    const unsigned char *bytes = data;
    uint64_t fp = SCHEMA_FP_EMPTY;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ table[(fp ^ bytes[i]) & 0xff];
    return fp;
}

int schema_header_value(const char *schema_json, char *out, size_t out_size, char *errstr,
                        size_t errstr_size) {
    buf_t canonical = BUF_INIT;
    json_t *name = NULL;
    int rc = -1;
    errstr[0] = '\0';
    if (schema_canonical_form(schema_json, &canonical, errstr, errstr_size) != 0)
        goto fail;
    json_t *root = json_loads(canonical.data, JSON_DECODE_ANY, NULL);
    name = root;
    const char *full = json_is_object(root) ? json_string_value(json_object_get(root, "name")) : NULL;
    if (!full) {
        snprintf(errstr, errstr_size, "the schema is not a named type");
        goto fail;
    }
    snprintf(out, out_size, "%s;crc64-avro=%016" PRIx64, full,
             schema_fingerprint64(canonical.data, canonical.len));
    rc = 0;
fail:
    json_decref(name);
    buf_free(&canonical);
    return rc;
}
