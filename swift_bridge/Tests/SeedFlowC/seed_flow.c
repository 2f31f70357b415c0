/* The seed's session flow, in the seed's own spelling (plue_session_t, int, char *),
 * against plue_core.h only. */
#include "seed_flow.h"
#include "plue_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(condition, ...)                                   \
    do {                                                        \
        if (!(condition)) {                                     \
            snprintf(failure, failure_size, __VA_ARGS__);       \
            return 1;                                           \
        }                                                       \
    } while (0)

/* Copies the string value of "key" in a flat JSON object into out. */
static int json_string(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *start = strstr(json, pattern);
    if (start == NULL) return 0;
    start += strlen(pattern);
    const char *end = strchr(start, '"');
    if (end == NULL || (size_t)(end - start) >= size) return 0;
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
    return 1;
}

static int contains(const char *text, const char *part) {
    return text != NULL && strstr(text, part) != NULL;
}

/* The calling thread's last error, freed; "" when there is none. */
static const char *last_error(char *buffer, size_t size) {
    char *error = plue_last_error();
    snprintf(buffer, size, "%s", error ? error : "");
    plue_free_string(error);
    return buffer;
}

int seed_flow_run(const char *data_dir, char *failure, size_t failure_size) {
    char error[512];
    char root_id[64];
    char expected[160];

    CHECK(plue_init(data_dir) == 0, "plue_init: %s", last_error(error, sizeof error));

    /* The seed passes "" for "no parent". */
    plue_session_t root = plue_session_create("");
    CHECK(root != NULL, "create(\"\"): %s", last_error(error, sizeof error));
    char *info = plue_session_get_info(root);
    CHECK(info != NULL, "get_info: %s", last_error(error, sizeof error));
    CHECK(json_string(info, "id", root_id, sizeof root_id), "no id in %s", info);
    CHECK(strncmp(root_id, "session_", 8) == 0, "id %s is not session_TIMESTAMP", root_id);
    CHECK(contains(info, "\"parent_id\":null"), "parent_id is not null: %s", info);
    CHECK(contains(info, "\"share_info\":null"), "share_info is not null: %s", info);
    CHECK(contains(info, "\"is_aborted\":false"), "no is_aborted: %s", info);
    CHECK(contains(info, "\"message_count\":0"), "no message_count: %s", info);
    CHECK(contains(info, "\"created_at\":") && contains(info, "\"updated_at\":"),
          "no created_at/updated_at: %s", info);
    plue_free_string(info);

    /* NULL works as well as "", and a caller that kept the Zig signature's
     * `?*anyopaque` (void *) compiles too. */
    void *other = plue_session_create(NULL);
    CHECK(other != NULL, "create(NULL): %s", last_error(error, sizeof error));

    /* A branch. */
    plue_session_t child = plue_session_create(root_id);
    CHECK(child != NULL, "create(parent): %s", last_error(error, sizeof error));
    info = plue_session_get_info(child);
    snprintf(expected, sizeof expected, "\"parent_id\":\"%s\"", root_id);
    CHECK(contains(info, expected), "child's parent_id is not %s: %s", root_id, info);
    plue_free_string(info);

    /* Title. */
    CHECK(plue_session_update_title(root, "Fix the build") == 0, "update_title: %s",
          last_error(error, sizeof error));
    info = plue_session_get_info(root);
    CHECK(contains(info, "\"title\":\"Fix the build\""), "title not updated: %s", info);
    plue_free_string(info);

    /* Listing. */
    char *list = plue_session_list();
    CHECK(list != NULL && list[0] == '[', "list: %s", last_error(error, sizeof error));
    CHECK(contains(list, root_id), "list lacks %s: %s", root_id, list);
    plue_free_string(list);

    /* Sharing: a URL, unescaped, and the share's metadata on the session. */
    char *share = plue_session_create_share(root);
    CHECK(share != NULL, "create_share: %s", last_error(error, sizeof error));
    CHECK(contains(share, "\"url\":\"https://plue.app/share/"), "url escaped or missing: %s", share);
    CHECK(contains(share, "\"secret\":\""), "no secret: %s", share);
    CHECK(contains(share, "\"expires_at\":null"), "expires_at is not null: %s", share);
    CHECK(contains(share, "\"created_at\":"), "no created_at: %s", share);
    plue_free_string(share);
    info = plue_session_get_info(root);
    CHECK(contains(info, "\"share_info\":{\"url\":"), "share_info missing: %s", info);
    plue_free_string(info);

    /* Abort. */
    CHECK(plue_session_abort(root) == 0, "abort: %s", last_error(error, sizeof error));
    info = plue_session_get_info(root);
    CHECK(contains(info, "\"is_aborted\":true"), "is_aborted not set: %s", info);
    plue_free_string(info);

    /* Delete cascades and releases the handle; the seed's caller does not destroy it. */
    CHECK(plue_session_delete(root) == 0, "delete: %s", last_error(error, sizeof error));
    CHECK(plue_session_get_info(child) == NULL, "the child survived its parent's delete");
    CHECK(contains(last_error(error, sizeof error), "session_not_found"),
          "wrong error for a deleted child: %s", error);
    CHECK(plue_session_get_info(root) == NULL, "a deleted handle still works");
    CHECK(contains(last_error(error, sizeof error), "invalid argument"),
          "wrong error for a released handle: %s", error);

    /* A parent that does not exist. */
    CHECK(plue_session_create("session_1000000000000") == NULL, "a missing parent was accepted");
    CHECK(contains(last_error(error, sizeof error), "parent_not_found"), "wrong error: %s", error);

    /* Destroy releases without deleting. */
    plue_session_destroy(child);
    plue_session_destroy(other);
    plue_session_destroy(NULL);
    list = plue_session_list();
    CHECK(list != NULL, "list after destroy: %s", last_error(error, sizeof error));
    plue_free_string(list);

    plue_deinit();
    return 0;
}
