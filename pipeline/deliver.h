/*
 * deliver: events POSTed to the `url` targets of slipway.notifications
 * and given to their `command`s (docs/pipeline.md "Events"), never
 * blocking the pipeline.
 *
 *   deliver_queue(pe_dir, 0, "team", "http://127.0.0.1:9000/events", json);
 *
 * Each event is appended to the target's spool, <pe-dir>/notify/<i>.jsonl
 * (i: the target's index in the file), then a deliverer process, detached
 * from the caller, drains the spool in order: one POST per event
 * (Content-Type: application/json, the event as body). At most one
 * deliverer per target holds <pe-dir>/notify/<i>.lock, taken before the
 * caller goes on, so `flock <i>.lock true` waits until every event queued
 * so far is delivered or given up; <i>.off is how far it got.
 *
 * An attempt fails on a transport error (refused, timed out: 2 s to
 * connect, 5 s in all) or a 5xx or 429 answer; it is tried 4 times, after
 * 0.2 s, 1 s and 5 s. An event that fails them all is given up, and until
 * one goes through again the next ones get one attempt each. A deliverer
 * gives up what is left after 120 s. Failures are warnings in
 * <pe-dir>/notifications.log; the pipeline never waits for them.
 */
#ifndef SW_PIPELINE_DELIVER_H
#define SW_PIPELINE_DELIVER_H

#include <stddef.h>

/* Queue the event json for target number idx, named name, at url. */
void deliver_queue(const char *pe_dir, size_t idx, const char *name,
		   const char *url, const char *json);

/*
 * The same for a command target: spool <pe-dir>/notify/cmd-<idx>.jsonl,
 * drained by a detached deliverer (lock cmd-<idx>.lock) that runs
 * `/bin/sh -c command` in cwd once per event, the event and a newline on
 * its stdin, its stdout and stderr appended to <pe-dir>/notifications.log.
 * A command that fails is a warning there, not tried again.
 */
void deliver_queue_command(const char *pe_dir, size_t idx, const char *name,
			   const char *command, const char *cwd,
			   const char *json);

/*
 * The same for requests that differ one from the next (commit statuses,
 * status.h): spool <pe-dir>/notify/<stem>.jsonl, each line a record
 *   {"url": U, "body": "<JSON text>", "headers": ["Accept: ..", ..],
 *    "auth": "Authorization: Bearer ", "token-file": F,
 *    "benign": "Cannot transition status"}
 * POSTed to U with the headers, plus auth followed by the content of F
 * (read when sent, so that no token is written in the spool). A 400
 * whose answer holds benign counts as delivered; a 403 that speaks of a
 * rate limit is retried as a 429 is. Messages name it
 * "commit status 'name'".
 */
void deliver_queue_request(const char *pe_dir, const char *stem,
			   const char *name, const char *record);

#endif
