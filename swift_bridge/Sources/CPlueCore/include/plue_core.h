/* The seed's C API (PLUE_CORE_API.md), implemented by the PlueCoreCompat Swift module
 * on top of the plue-sidecar process.
 *
 * Ownership, as in the seed:
 * - plue_session_create returns a handle owned by the caller. plue_session_destroy
 *   releases it (and what the sidecar keeps loaded for the session) and deletes
 *   nothing. plue_session_delete deletes the session and its descendants and, when it
 *   succeeds, also releases the handle: do not destroy or use it afterwards. Using a
 *   released handle is an error (an invalid-argument error is recorded), never a crash.
 * - Strings returned (char *) are NUL-terminated UTF-8 JSON owned by the caller; free
 *   them with plue_free_string.
 *
 * Errors: functions returning a pointer return NULL, functions returning int return 0
 * on success and -1 on error. After an error, plue_last_error() describes the last
 * error of the calling thread (errors are per thread).
 *
 * Where the sidecar is stricter than the seed: titles are trimmed and must then be
 * 1..200 characters; a longer title fails with an error that says so.
 * Every function may be called from any thread, including threads of Swift's
 * cooperative pool; calls block until the sidecar answers or the call times out. */
#ifndef PLUE_CORE_H
#define PLUE_CORE_H

/* Opaque session handle. */
typedef struct plue_session *plue_session_t;

/* Start the sidecar on data_dir (NULL: its default). 0 on success, -1 on error. */
int plue_init(const char *data_dir);
/* Shut the sidecar down; every handle becomes invalid. */
void plue_deinit(void);

/* A new session; a child of parent_id unless it is NULL or "". NULL on error. */
plue_session_t plue_session_create(const char *parent_id);
/* The session as JSON: {"id","parent_id","title","created_at","updated_at",
 * "message_count","is_aborted","share_info"}; parent_id and share_info may be null;
 * share_info is {"url","secret","created_at","expires_at"} (expires_at may be null).
 * Times are milliseconds since the Unix epoch. */
char *plue_session_get_info(plue_session_t session);
/* Every session, newest first, as a JSON array of the objects above. */
char *plue_session_list(void);
/* Set the title (UTF-8). */
int plue_session_update_title(plue_session_t session, const char *title);
/* Delete the session and all associated data (and its descendants); on success the
 * handle is released. */
int plue_session_delete(plue_session_t session);
/* Abort ongoing operations in the session. */
int plue_session_abort(plue_session_t session);
/* A shareable link, as the share_info JSON object above. */
char *plue_session_create_share(plue_session_t session);
/* Release the handle; deletes nothing. NULL is ignored. */
void plue_session_destroy(plue_session_t session);

/* The calling thread's last error, or NULL if its last call succeeded. Free it with
 * plue_free_string. */
char *plue_last_error(void);
/* Free a string returned by this API. NULL is ignored. */
void plue_free_string(char *string);

#endif
