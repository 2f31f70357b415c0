/* The seed's C API, implemented by the PlueCoreCompat Swift module on top of the
 * plue-sidecar process. Handles are opaque; strings returned are UTF-8 JSON owned by
 * the caller and freed with plue_free_string. Functions returning a pointer return
 * NULL on error; functions returning int32_t return 0 on success and -1 on error.
 * After an error, plue_last_error() returns its description (free it too). */
#ifndef PLUE_CORE_H
#define PLUE_CORE_H

#include <stdint.h>

typedef void *plue_session_handle;

/* Start the sidecar on data_dir (NULL: its default). */
int32_t plue_init(const char *data_dir);
/* Shut the sidecar down; every handle becomes invalid. */
void plue_deinit(void);

/* A new session, a child of parent_id when it is not NULL. */
plue_session_handle plue_session_create(const char *parent_id);
/* SessionInfo as JSON. */
char *plue_session_get_info(plue_session_handle handle);
/* Every session, newest first, as a JSON array of SessionInfo. */
char *plue_session_list(void);
int32_t plue_session_update_title(plue_session_handle handle, const char *title);
/* Deletes the session and its descendants; the handle must still be destroyed. */
int32_t plue_session_delete(plue_session_handle handle);
int32_t plue_session_abort(plue_session_handle handle);
/* ShareInfo as JSON. */
char *plue_session_create_share(plue_session_handle handle);
/* Releases the handle (and what the sidecar keeps loaded for it); deletes nothing. */
void plue_session_destroy(plue_session_handle handle);

char *plue_last_error(void);
void plue_free_string(char *string);

#endif
