/* schema_registry.c -- the Schema Registry client. See schema_registry.h.
 *
 * libcurl rather than a hand-written HTTP client: registries sit behind TLS,
 * proxies and redirects, which libcurl handles and we would not. Only two
 * requests are made, once at start, so the easy interface is enough. */
#include "schema_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "buf.h"

#define REGISTRY_CONTENT_TYPE "Content-Type: application/vnd.schemaregistry.v1+json"

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque) {
    return buf_append(opaque, data, size * nmemb) == 0 ? size * nmemb : 0;
}

/* Percent-encode a path segment (topic names may hold '.', '_', '-'). */
static int put_segment(buf_t *out, const char *segment) {
    for (const unsigned char *p = (const unsigned char *)segment; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (plain ? buf_putc(out, (char)*p) != 0 : buf_printf(out, "%%%02X", *p) != 0)
            return -1;
    }
    return 0;
}

/* POST `body` to url + path. Returns 0 with *status and `answer` filled, or
 * -1 with errstr set when no HTTP answer came. */
static int registry_post(const char *url, const char *path_before, const char *subject,
                         const char *path_after, const char *body, long timeout_ms, long *status,
                         buf_t *answer, char *errstr, size_t errstr_size) {
    buf_t target = BUF_INIT;
    CURL *curl = NULL;
    struct curl_slist *headers = NULL;
    int rc = -1;
    size_t url_len = strlen(url);
    while (url_len > 0 && url[url_len - 1] == '/')
        url_len--;
    if (buf_append(&target, url, url_len) != 0 || buf_puts(&target, path_before) != 0 ||
        put_segment(&target, subject) != 0 || buf_puts(&target, path_after) != 0) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    curl = curl_easy_init();
    headers = curl_slist_append(NULL, REGISTRY_CONTENT_TYPE);
    if (!curl || !headers) {
        snprintf(errstr, errstr_size, "cannot start an HTTP request (libcurl)");
        goto fail;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    if (curl_easy_setopt(curl, CURLOPT_URL, target.data) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err) != CURLE_OK) {
        snprintf(errstr, errstr_size, "cannot set up the HTTP request (libcurl)");
        goto fail;
    }
    CURLcode cerr = curl_easy_perform(curl);
    if (cerr != CURLE_OK) {
        snprintf(errstr, errstr_size, "schema registry %s unreachable: %s", target.data,
                 curl_err[0] ? curl_err : curl_easy_strerror(cerr));
        goto fail;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    rc = 0;
fail:
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    buf_free(&target);
    return rc;
}

/* The registry's own words for an error answer, or the body as it is. */
static void registry_error(const char *what, const char *subject, long status, const buf_t *answer,
                           char *errstr, size_t errstr_size) {
    json_t *root = answer->data ? json_loads(answer->data, 0, NULL) : NULL;
    const char *message = json_string_value(json_object_get(root, "message"));
    snprintf(errstr, errstr_size, "schema registry rejected %s of subject %s: HTTP %ld: %s", what,
             subject, status, message ? message : (answer->data ? answer->data : ""));
    json_decref(root);
}

int schema_registry_register(const char *url, const char *subject, const char *schema_json,
                             long timeout_ms, int64_t *id, char *errstr, size_t errstr_size) {
    int rc = -1;
    char *body = NULL;
    json_t *answer_json = NULL;
    buf_t answer = BUF_INIT;
    long status = 0;
    json_t *request = json_pack("{s:s}", "schema", schema_json);
    if (!request || !(body = json_dumps(request, JSON_COMPACT))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (registry_post(url, "/compatibility/subjects/", subject, "/versions/latest", body,
                      timeout_ms, &status, &answer, errstr, errstr_size) != 0)
        goto fail;
    if (status == 200) {
        answer_json = json_loads(answer.data ? answer.data : "", 0, NULL);
        json_t *compatible = json_object_get(answer_json, "is_compatible");
        if (!json_is_boolean(compatible)) {
            registry_error("the compatibility check", subject, status, &answer, errstr, errstr_size);
            goto fail;
        }
        if (!json_is_true(compatible)) {
            snprintf(errstr, errstr_size,
                     "schema registry: the schema is not compatible with the latest version of "
                     "subject %s under its compatibility mode",
                     subject);
            goto fail;
        }
        json_decref(answer_json);
        answer_json = NULL;
    } else if (status != 404) { /* 404: no version yet, nothing to be compatible with */
        registry_error("the compatibility check", subject, status, &answer, errstr, errstr_size);
        goto fail;
    }
    buf_reset(&answer);
    if (registry_post(url, "/subjects/", subject, "/versions", body, timeout_ms, &status, &answer,
                      errstr, errstr_size) != 0)
        goto fail;
    if (status != 200) {
        registry_error("the registration", subject, status, &answer, errstr, errstr_size);
        goto fail;
    }
    answer_json = json_loads(answer.data ? answer.data : "", 0, NULL);
    json_t *id_json = json_object_get(answer_json, "id");
    if (!json_is_integer(id_json) || json_integer_value(id_json) < 0 ||
        json_integer_value(id_json) > 2147483647) {
        snprintf(errstr, errstr_size, "schema registry: the registration of %s answered no id: %s",
                 subject, answer.data ? answer.data : "");
        goto fail;
    }
    *id = json_integer_value(id_json);
    rc = 0;
fail:
    json_decref(answer_json);
    json_decref(request);
    free(body);
    buf_free(&answer);
    return rc;
}
