/*
 * probe: proof that a deployment dropped no request. A child process
 * sends HTTP GET requests to a URL (through the load balancer) at a
 * steady rate for as long as the deployment runs, one at a time, each on
 * a new connection, and records each one; the figures go to the report
 * and the summary line (deploy --probe URL[,RATE]).
 *
 *   struct probe_opts po;
 *   if (probe_parse("http://127.0.0.1:8080/,50", &po, &e) < 0)
 *           ... ERR_USAGE: "--probe: ..."
 *   struct probe p = PROBE_INIT;
 *   if (probe_start(&p, &po, "<dep>/probe.log", &e) < 0) ...
 *   ... the deployment ...
 *   struct probe_result r = PROBE_RESULT_INIT;
 *   probe_stop(&p, &r, &e);          -- TERM, wait, read its log
 *   ... r.sent, r.failed, r.longest_gap_ms, r.versions[i] ...
 *   probe_result_release(&r); probe_opts_release(&po);
 *
 * A request succeeds when the answer's status is 200 within 2 s (1 s to
 * connect). Its version is the answer's X-Version header, else the first
 * line of its body (at most 64 bytes). Requests still unanswered when
 * the probe stops are not counted. The log has one line a request,
 * "WALL_MS OK|FAIL LATENCY_MS TEXT" (TEXT: the version, or why it
 * failed), written as each ends.
 *
 * The longest gap is the longest time without a success: between two
 * successes, from the start to the first one, or from the last one to
 * the end. Versions are listed in the order they first answered, each
 * with its first and last answer and its count: a blue/green switch is
 * one version ending where the next begins, an in-place rollout two
 * that overlap.
 */
#ifndef SW_PROBE_H
#define SW_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define PROBE_DEFAULT_RATE 20
#define PROBE_MAX_RATE 1000

struct probe_opts {
	char *url; /* as given */
	char *host; /* an IPv4 address or a name */
	int port;
	char *path; /* "/..." */
	unsigned rate; /* requests a second */
};

/* "http://HOST[:PORT][/PATH][,RATE]"; ERR_USAGE for anything else. */
int probe_parse(const char *spec, struct probe_opts *o, struct sw_err *e);
void probe_opts_release(struct probe_opts *o);

struct probe {
	pid_t pid; /* 0: not running */
	char *log;
	int64_t start_ms, end_ms; /* wall clock */
	const struct probe_opts *o; /* borrowed */
};

#define PROBE_INIT                                                             \
	{                                                                      \
		0, NULL, 0, 0, NULL                                            \
	}

struct probe_version {
	char *version;
	int64_t first_ms, last_ms; /* wall clock */
	size_t count;
};

struct probe_failure {
	int64_t at_ms;
	char *why;
};

struct probe_result {
	char *url;
	unsigned rate;
	int64_t start_ms, end_ms;
	size_t sent, failed;
	int64_t longest_gap_ms;
	struct probe_version *versions;
	size_t nr_versions;
	struct probe_failure *failures; /* the first PROBE_MAX_FAILURES */
	size_t nr_failures;
};

#define PROBE_MAX_FAILURES 20

#define PROBE_RESULT_INIT                                                      \
	{                                                                      \
		NULL                                                           \
	}

/* Fork the prober (it ends with us, even on SIGKILL); log_path is made
 * anew. p borrows o. */
int probe_start(struct probe *p, const struct probe_opts *o,
		const char *log_path, struct sw_err *e);
/* Stop it and read its log into *r. */
int probe_stop(struct probe *p, struct probe_result *r, struct sw_err *e);
/* The figures from a log's text (for tests): start/end bound the gap. */
void probe_tally(const char *log, size_t len, int64_t start_ms, int64_t end_ms,
		 struct probe_result *r);
void probe_result_release(struct probe_result *r);
void probe_release(struct probe *p);

#endif
