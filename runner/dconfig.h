/*
 * dconfig: deployment configurations, pluggable. A configuration says,
 * given how the fleet stands, which hosts start next, whether to wait,
 * stop or finish, and whether the deployment succeeded (reference
 * codedeploy.md section 3.1-3.2, the derived model).
 *
 *   struct dconfig c;                         -- from dconfig_builtin() or
 *   dconfig_builtin("CodeDeployDefault.HalfAtATime", &c);  -- a group file
 *   struct dsched s;                          -- borrows c: keep it alive
 *   if (dsched_start(&s, &c, n_hosts, &e) < 0)
 *           ... ERR_FAILED: "the minimum of 10 healthy hosts
 *               (FLEET_PERCENT 95) cannot be kept on a fleet of 10:
 *               nothing could be deployed"
 *   for (;;) {
 *           struct dcounts k = { ... how many pending/in flight/... };
 *           struct ddecision d;
 *           dsched_next(&s, &k, now_ms, &d);
 *           switch (d.verdict) {
 *           case DSCHED_LAUNCH:  start d.launch more hosts (in host order)
 *           case DSCHED_WAIT:    wait for a host to end, or until d.until_ms
 *           case DSCHED_HEALTH:  run the health command, then
 *                                dsched_health(&s, ok);
 *           case DSCHED_STOP:    stop: no more launches, in-flight hosts
 *                                finish, pending ones are Skipped
 *           case DSCHED_DONE:    all hosts ended
 *           }
 *   }
 *   bool ok = dsched_succeeded(&s, &k);
 *
 * Calling dsched_next: the counts always add up to n (BUG() otherwise);
 * after DSCHED_LAUNCH the caller moves d.launch hosts from pending to
 * in_flight before it asks again. dsched_next may be asked at any time
 * (after each host ends, when a wait expires): asked again with nothing
 * changed it gives the same verdict, so a LAUNCH not yet acted on is
 * repeated, not added to, and a DSCHED_HEALTH is repeated until
 * dsched_health() reports it (run the command once). now_ms is a
 * monotonic clock in milliseconds, > 0. DSCHED_STOP is given exactly
 * once, at the moment of stopping (s.stopped is set and s.why holds the
 * reason); after it the verdict is DSCHED_WAIT (until_ms 0) while hosts
 * are in flight, then DSCHED_DONE, whether or not the caller has moved
 * the pending hosts to skipped.
 *
 * The model (section 3.2): N hosts; M, the minimum healthy, is the
 * HOST_COUNT value or ceil(N * value / 100) for FLEET_PERCENT;
 * OneAtATime (MOST_CONCURRENCY) is M = N - 1 with 1 in flight. M >= N
 * fails at the start (except OneAtATime, and except N = 0 which is an
 * error of its own). At most N - M - failed hosts are in flight; when
 * failed >= N - M while hosts are still pending the deployment stops.
 * Success: succeeded >= M and succeeded >= 1, also after a stop (which
 * leaves succeeded < M by construction). So OneAtATime tolerates a
 * failure of the last host only, HalfAtATime on 9 hosts runs 4 at a time
 * and needs 5, AllAtOnce runs all and needs 1.
 *
 * Canary {percent P, bake B, health CMD}: first ceil(N * P / 100) hosts
 * (at least 1, at most N), all at once; when they all succeeded, wait B,
 * run CMD if there is one, then all the remaining hosts at once. Linear
 * {percent P, interval I, health CMD}: steps of ceil(N * P / 100) hosts,
 * with I (and CMD) between steps. For both, any host failure stops the
 * deployment (no further steps), a failing health command stops it, and
 * success needs every host to succeed. The wait and the health command
 * come only between steps: after the last step there is neither. A
 * failure in the last step does not stop (nothing is left to stop); the
 * deployment fails.
 *
 * Adding a configuration kind is adding one entry to the table in
 * dconfig.c (struct dconfig_kind_ops).
 */
#ifndef SW_DCONFIG_H
#define SW_DCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

enum dconfig_kind {
	DCONFIG_MIN_HEALTHY, /* minimum-healthy-hosts (the built-ins too) */
	DCONFIG_CANARY,
	DCONFIG_LINEAR,
};

enum dconfig_min_type {
	DCONFIG_HOST_COUNT,
	DCONFIG_FLEET_PERCENT,
	DCONFIG_MOST_CONCURRENCY, /* OneAtATime's, not for users */
};

struct dconfig {
	char *name; /* "CodeDeployDefault.HalfAtATime", "Canary25" */
	enum dconfig_kind kind;
	enum dconfig_min_type min_type; /* DCONFIG_MIN_HEALTHY */
	unsigned min_value; /* a count, or a percentage 0-100 */
	unsigned percent; /* canary and linear: 1-100 */
	int64_t interval_ms; /* canary bake, linear interval; >= 0 */
	char *health; /* a shell command, or NULL */
};

#define DCONFIG_INIT                                                           \
	{                                                                      \
		NULL                                                           \
	}

/* The three CodeDeployDefault.* for EC2/on-premises: 0 and *c (owned:
 * release it), or -1 when name is not one of them. */
int dconfig_builtin(const char *name, struct dconfig *c);
void dconfig_release(struct dconfig *c);
/* A deep copy. */
void dconfig_copy(struct dconfig *dst, const struct dconfig *src);

/* How the fleet stands, counted by the caller. */
struct dcounts {
	size_t pending; /* not started */
	size_t in_flight;
	size_t succeeded;
	size_t failed;
	size_t skipped;
};

enum dsched_verdict {
	DSCHED_LAUNCH, /* start `launch` more hosts now */
	DSCHED_WAIT, /* wait for a host to end, or until until_ms (> 0) */
	DSCHED_HEALTH, /* run the health command, report with dsched_health */
	DSCHED_STOP, /* stop the deployment */
	DSCHED_DONE, /* every host ended */
};

struct ddecision {
	enum dsched_verdict verdict;
	size_t launch; /* DSCHED_LAUNCH: how many, >= 1 */
	int64_t until_ms; /* DSCHED_WAIT: 0 = for a host; else a time */
	const char *why; /* DSCHED_STOP: a reason (static or in s) */
};

struct dsched;

/* One configuration kind: the table's entry. */
struct dconfig_kind_ops {
	enum dconfig_kind kind;
	const char *name; /* "minimum-healthy-hosts", "canary", "linear" */
	int (*start)(struct dsched *s, struct sw_err *e);
	void (*next)(struct dsched *s, const struct dcounts *k, int64_t now_ms,
		     struct ddecision *d);
	bool (*succeeded)(const struct dsched *s, const struct dcounts *k);
	/* "4 hosts at a time; success needs 5 of 9" etc. for `plan` */
	void (*describe)(const struct dsched *s, struct buf *out);
};

struct dsched {
	const struct dconfig *c;
	const struct dconfig_kind_ops *ops;
	size_t n; /* hosts */
	size_t min_healthy; /* M */
	size_t max_in_flight; /* N - M for the min-healthy kind */
	/* canary / linear */
	size_t step_size; /* hosts per step (canary: the first step) */
	size_t steps_started; /* hosts in the steps begun so far */
	unsigned step; /* steps begun, 1 = the first */
	int64_t wait_until_ms; /* bake or interval end, 0 when none */
	int phase; /* the kind's own state */
	bool health_failed;
	bool stopped;
	char why[256];
};

/* The table's entry for kind, or NULL; the kind named name ("canary"),
 * 0 or -1 when there is none. */
const struct dconfig_kind_ops *dconfig_kind_ops(enum dconfig_kind kind);
int dconfig_kind_by_name(const char *name, enum dconfig_kind *kind);

/* ERR_FAILED for n == 0, M >= N, a percentage out of range or a negative
 * wait; s borrows c. Nothing to release. */
int dsched_start(struct dsched *s, const struct dconfig *c, size_t n,
		 struct sw_err *e);
void dsched_next(struct dsched *s, const struct dcounts *k, int64_t now_ms,
		 struct ddecision *d);
/* Only after DSCHED_HEALTH (BUG() otherwise). ok = false: the next
 * dsched_next gives DSCHED_STOP, "health command failed after step K". */
void dsched_health(struct dsched *s, bool ok);
/* Once DSCHED_DONE: canary and linear need all n succeeded and no stop. */
bool dsched_succeeded(const struct dsched *s, const struct dcounts *k);
/* Appends one line, "<name>: minimum healthy 5 of 9 (FLEET_PERCENT 50);
 * up to 4 hosts at a time; succeeds when at least 5 succeed". */
void dsched_describe(const struct dsched *s, struct buf *out);

/*
 * The batches an all-successful run would use, for `slipway plan`:
 * sizes[i] hosts start together in batch i (a batch starts when the
 * previous one ended, as with min-healthy configs the fleet runs
 * max_in_flight at a time; waits are skipped, health commands pass).
 * *nr batches; the caller frees *sizes. -1 as dsched_start.
 */
int dsched_plan(const struct dconfig *c, size_t n, size_t **sizes, size_t *nr,
		struct sw_err *e);

#endif
