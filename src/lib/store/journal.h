/* The event journal: what happened in the store (containers created, started, dead; images loaded, tagged,
   deleted; volumes created, mounted…), as Docker's events, for `isola events` and any other front end.

   ROOT/events/journal     one event a line: Docker's event message as JSON (docs/STORE.md), appended with one
                           write(2) under ROOT/events/lock
   ROOT/events/journal.1   the previous journal: when the journal reaches JOURNAL_ROTATE_BYTES it is renamed over
                           journal.1 and a new one begins, so the last ~1000 events or more are always kept
   ROOT/events/lock        flock(2): appends and the rotation

   A record is one line ending in '\n'.  A writer that finds the journal not ending in '\n' (a write cut by a power
   failure) ends that line first, so a torn record is one line that readers skip, never glued to the next. */
#ifndef ISOLA_JOURNAL_H
#define ISOLA_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

#define JOURNAL_DIR          "events"
#define JOURNAL_ROTATE_BYTES (512 * 1024)

/* Appends an event: Type (container, image, volume), Action ("start", "die"…), Actor.ID and Actor.Attributes
   (an object of strings, borrowed, may be NULL), stamped with the current time.  Container and image events also
   get Docker's legacy fields (status, id, from: the attribute "image").  A failure is reported but should not fail
   the operation that happened. */
int journal_log (const char *root, const char *type, const char *action, const char *actor_id, json_t *attributes,
                 isola_error_t *err);

/* The event of journal_log as a JSON object, timeNano given (exported for the unit tests). */
json_t *journal_event_new (const char *type, const char *action, const char *actor_id, json_t *attributes,
                           int64_t time_nano);

/* Docker's event filters, filters being an object of arrays ({"type": ["container"], "label": ["a=b"]}):
   journal_filter_add adds "KEY=VALUE" (EINVAL "bad format of filter (expected name=value)", or "invalid filter
   'KEY'" for a key Docker's events do not take).  An event matches when it matches every key: one of the values of
   type, event (an exec_create/exec_start value also matches the actions it begins), image (the image's ID or name,
   with or without its tag), container and volume (the actor's ID or name, or a prefix of them), and every label
   (KEY or KEY=VALUE among its attributes). */
int journal_filter_add (json_t *filters, const char *arg, isola_error_t *err);
bool journal_filter_match (json_t *filters, json_t *event);

/* Reads the journal: the retained events oldest first, then (journal_reader_wait) those appended later, across
   rotations. */
struct journal_reader;
/* from_end: skips what the journal holds now (only later events are read). */
int journal_reader_open (const char *root, bool from_end, struct journal_reader **out, isola_error_t *err);
/* 1 and *event (the caller's) for the next complete record, 0 when there is none for now; lines that are not
   JSON objects (a torn record) are skipped. */
int journal_reader_next (struct journal_reader *r, json_t **event, isola_error_t *err);
/* Blocks until the journal may have grown (inotify) or timeout_ms passed (negative: no limit); 0, or -EINTR when a
   signal came. */
int journal_reader_wait (struct journal_reader *r, int timeout_ms);
void journal_reader_free (struct journal_reader *r);
static inline void
cleanup_journal_readerp (struct journal_reader **r)
{
  journal_reader_free (*r);
}
#define cleanup_journal_reader __attribute__ ((cleanup (cleanup_journal_readerp)))

#endif
