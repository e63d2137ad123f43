/*
 * serve: `slipway serve` (docs/serve.md), the server core: the pipelines
 * it serves (reloaded on SIGHUP), the HTTP server (http.h) with the
 * routes of api.h and auth's login form, and the runners: each start,
 * decision, retry or resume of an execution is a child process running
 * the engine (exec.h), its stderr logged line by line.
 *
 *   struct serve_opts o = SERVE_OPTS_INIT;
 *   strvec_push(&o.pipelines, "pipelines/");
 *   return serve_run(&o);           -- returns when SIGTERM'd: exit status
 *
 * Signals: SIGHUP reloads the pipeline files (a file that no longer
 * loads is refused with its error, and its last good declaration kept);
 * SIGTERM or SIGINT stop accepting connections and drain the runners
 * (exec.h): running actions finish within opts.grace_ms, then what is
 * still running is killed (its action Failed at the next start, never
 * run twice). At start, executions left InProgress by a drained runner
 * are resumed. A second SIGTERM or SIGINT kills at once.
 *
 * Handlers (api.c, the pages) reach the server through the data given
 * with their route: a struct serve *.
 */
#ifndef SW_SERVER_SERVE_H
#define SW_SERVER_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strvec.h"

struct pipeline;

struct serve_opts {
	const char *listen; /* "ADDR:PORT"; NULL: 127.0.0.1:8080 */
	struct strvec pipelines; /* files or directories of them */
	const char *state_dir; /* NULL: the default (state.h) */
	int workers; /* actions at a time; 0: the number of CPUs */
	bool queue; /* --workers 0: actions go to the job queue */
	const char *token_file; /* NULL: a token made at start (loopback) */
	uint64_t max_body; /* 0: 25 MiB */
	int64_t grace_ms; /* 0: 10 minutes */
	int64_t request_timeout_ms; /* 0: 30 s */
	const char *port_file; /* write the port here once listening */
	/* the server's URL as others reach it, for links (commit
	 * statuses); NULL: http://ADDR:PORT as listened on */
	const char *public_url;
};

#define SERVE_OPTS_INIT                                                        \
	{                                                                      \
		.pipelines = STRVEC_INIT                                       \
	}

int serve_run(const struct serve_opts *o);

/* The internal entry of a runner: `slipway serve --runner ...`. */
int serve_runner_main(int argc, char **argv);

/* ---- for handlers ------------------------------------------------------ */

struct serve;

/* The pipelines served now: a snapshot that a reload does not change;
 * give it back with serve_pipelines_put(). */
struct serve_pls {
	struct pipeline **v;
	size_t nr;
};
struct serve_pls *serve_pipelines_get(struct serve *s);
void serve_pipelines_put(struct serve *s, struct serve_pls *p);
/* The pipeline named name in p, or NULL. */
struct pipeline *serve_find(const struct serve_pls *p, const char *name);

/* The state directory, absolute. */
const char *serve_state_dir(const struct serve *s);
/* The server is draining: take no new work (answer 503). */
bool serve_stopping(const struct serve *s);

/*
 * Run a runner: `slipway serve --runner ARGS...` (serve_runner_main)
 * with USER=who, and wait until it has taken the request. 0 then, else
 * its exit status (or 111) with *msg (caller frees) its last line on
 * stderr without the "slipway: " prefix.
 */
int serve_spawn(struct serve *s, const struct strvec *args, const char *who,
		char **msg);

/*
 * Start an execution of pl (a pipeline of a snapshot) as serve_spawn()
 * does, its trigger given (NULL: StartPipelineExecution), at revision
 * (NULL: its branches), with vars ("NAME=VALUE"; NULL: none). 0 and *id
 * (caller frees), else as serve_spawn().
 */
int serve_start(struct serve *s, const struct pipeline *pl,
		const char *trigger_type, const char *trigger_detail,
		const char *revision, const struct strvec *vars,
		const char *who, char **id, char **msg);

/*
 * A handle on the state directory's store, from a small pool (opening one
 * reads the schema: too slow to do per request). Give it back with
 * serve_store_put() (NULL is a no-op) and never use it after. NULL with
 * *e set when the store cannot be opened.
 */
struct store;
struct sw_err;
struct store *serve_store_get(struct serve *s, struct sw_err *e);
void serve_store_put(struct serve *s, struct store *st);

/* A new execution id, "pe-<uuid>" (caller frees). */
char *serve_new_id(void);

#endif
