#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "dconfig.h"
#include "xalloc.h"

#include "banned.h"

#define MAX_HOSTS 128

enum host_state { H_PENDING, H_RUNNING, H_OK, H_FAILED, H_SKIPPED };

/*
 * A fleet without processes: hosts start in order when told, end (in
 * the order they started) when the schedule waits for them, and fail
 * when their index is in the failure list. Every decision is asked for
 * twice to check it does not change when nothing changed.
 */
struct sim {
	/* in */
	bool fail[MAX_HOSTS];
	bool one_by_one; /* end one host per wait, not all in flight */
	unsigned health_fail_at; /* the health run that fails, 1-based */
	/* out */
	enum host_state st[MAX_HOSTS];
	unsigned launched[MAX_HOSTS];
	size_t batches[MAX_HOSTS];
	int64_t batch_at[MAX_HOSTS];
	size_t nr_batches;
	unsigned health_runs;
	int64_t health_at[MAX_HOSTS];
	unsigned stops;
	char why[256];
	struct dcounts k;
	bool ok;
	size_t max_in_flight_seen;
};

static void count(const struct sim *m, size_t n, struct dcounts *k)
{
	size_t i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < n; i++) {
		switch (m->st[i]) {
		case H_PENDING:
			k->pending++;
			break;
		case H_RUNNING:
			k->in_flight++;
			break;
		case H_OK:
			k->succeeded++;
			break;
		case H_FAILED:
			k->failed++;
			break;
		case H_SKIPPED:
			k->skipped++;
			break;
		}
	}
}

/* The host started longest ago that is still running. */
static size_t oldest_running(struct sim *m, size_t n, size_t *order,
			     size_t nr_order)
{
	size_t i;

	for (i = 0; i < nr_order; i++)
		if (m->st[order[i]] == H_RUNNING)
			return order[i];
	fail_msg("waiting with nothing in flight (%zu hosts)", n);
	return 0;
}

static void simulate(const struct dconfig *c, size_t n, struct sim *m)
{
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct dcounts k;
	struct ddecision d, again;
	size_t order[MAX_HOSTS], nr_order = 0, i, steps = 0;
	int64_t now = 1000;

	assert_true(n <= MAX_HOSTS);
	assert_int_equal(dsched_start(&s, c, n, &e), 0);
	for (;;) {
		assert_true(++steps < 10 * MAX_HOSTS);
		count(m, n, &k);
		dsched_next(&s, &k, now, &d);
		if (d.verdict != DSCHED_STOP && d.verdict != DSCHED_DONE) {
			dsched_next(&s, &k, now, &again);
			assert_int_equal(again.verdict, d.verdict);
			assert_int_equal(again.launch, d.launch);
			assert_int_equal(again.until_ms, d.until_ms);
		}
		switch (d.verdict) {
		case DSCHED_LAUNCH:
			assert_true(d.launch >= 1);
			assert_true(d.launch <= k.pending);
			if (c->kind == DCONFIG_MIN_HEALTHY)
				assert_true(k.in_flight + d.launch + k.failed <=
					    s.max_in_flight);
			m->batch_at[m->nr_batches] = now;
			m->batches[m->nr_batches++] = d.launch;
			for (i = 0; i < n && d.launch; i++) {
				if (m->st[i] != H_PENDING)
					continue;
				m->st[i] = H_RUNNING;
				m->launched[i]++;
				order[nr_order++] = i;
				d.launch--;
			}
			count(m, n, &k);
			if (k.in_flight > m->max_in_flight_seen)
				m->max_in_flight_seen = k.in_flight;
			break;
		case DSCHED_WAIT:
			if (d.until_ms) {
				assert_true(d.until_ms > now);
				now = d.until_ms;
				break;
			}
			assert_true(k.in_flight > 0);
			do {
				i = oldest_running(m, n, order, nr_order);
				m->st[i] = m->fail[i] ? H_FAILED : H_OK;
				count(m, n, &k);
			} while (!m->one_by_one && k.in_flight);
			break;
		case DSCHED_HEALTH:
			m->health_at[m->health_runs++] = now;
			dsched_health(&s, m->health_runs != m->health_fail_at);
			break;
		case DSCHED_STOP:
			assert_non_null(d.why);
			assert_true(s.stopped);
			snprintf(m->why, sizeof(m->why), "%s", d.why);
			m->stops++;
			for (i = 0; i < n; i++)
				if (m->st[i] == H_PENDING)
					m->st[i] = H_SKIPPED;
			break;
		case DSCHED_DONE:
			assert_int_equal(k.pending + k.in_flight, 0);
			m->k = k;
			m->ok = dsched_succeeded(&s, &k);
			for (i = 0; i < n; i++)
				assert_true(m->launched[i] <= 1);
			assert_true(m->stops <= 1);
			/* a stopped min-healthy run cannot reach M */
			if (m->stops && c->kind == DCONFIG_MIN_HEALTHY)
				assert_true(k.succeeded < s.min_healthy);
			assert_int_equal(m->stops != 0, s.stopped);
			return;
		}
	}
}

static void run(const struct dconfig *c, size_t n, const int *fails,
		size_t nr_fails, bool one_by_one, struct sim *m)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	m->one_by_one = one_by_one;
	for (i = 0; i < nr_fails; i++)
		m->fail[fails[i]] = true;
	simulate(c, n, m);
}

#define RUN(c, n, one, m, ...)                                                 \
	do {                                                                   \
		const int f_[] = { -1, __VA_ARGS__ };                          \
		run((c), (n), f_ + 1, ARRAY_SIZE(f_) - 1, (one), (m));         \
	} while (0)

static void builtin(const char *name, struct dconfig *c)
{
	assert_int_equal(dconfig_builtin(name, c), 0);
}

static struct dconfig min_cfg(enum dconfig_min_type t, unsigned v)
{
	struct dconfig c = DCONFIG_INIT;

	c.kind = DCONFIG_MIN_HEALTHY;
	c.min_type = t;
	c.min_value = v;
	return c;
}

static struct dconfig step_cfg(enum dconfig_kind kind, const char *name,
			       unsigned percent, int64_t ms, const char *health)
{
	struct dconfig c = DCONFIG_INIT;

	c.name = (char *)name;
	c.kind = kind;
	c.percent = percent;
	c.interval_ms = ms;
	c.health = (char *)health;
	return c;
}

static void assert_plan(const struct dconfig *c, size_t n, const size_t *want,
			size_t nr_want)
{
	struct sw_err e = SW_ERR_INIT;
	size_t *sizes, nr, i;

	assert_int_equal(dsched_plan(c, n, &sizes, &nr, &e), 0);
	assert_int_equal(nr, nr_want);
	for (i = 0; i < nr; i++)
		assert_int_equal(sizes[i], want[i]);
	free(sizes);
}

#define PLAN(c, n, ...)                                                        \
	do {                                                                   \
		const size_t w_[] = { __VA_ARGS__ };                           \
		assert_plan((c), (n), w_, ARRAY_SIZE(w_));                     \
	} while (0)

static void assert_describe(const struct dconfig *c, size_t n, const char *want)
{
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;

	assert_int_equal(dsched_start(&s, c, n, &e), 0);
	dsched_describe(&s, &b);
	assert_string_equal(buf_cstr(&b), want);
	buf_release(&b);
}

static void assert_start_fails(const struct dconfig *c, size_t n,
			       const char *want)
{
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	size_t *sizes = NULL, nr = 0;

	assert_int_equal(dsched_start(&s, c, n, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_string_equal(e.msg, want);
	err_clear(&e);
	assert_int_equal(dsched_plan(c, n, &sizes, &nr, &e), -1);
	assert_null(sizes);
	assert_int_equal(nr, 0);
}

static void test_dconfig__builtins(void **state)
{
	struct dconfig c, d;

	(void)state;
	builtin("CodeDeployDefault.OneAtATime", &c);
	assert_string_equal(c.name, "CodeDeployDefault.OneAtATime");
	assert_int_equal(c.kind, DCONFIG_MIN_HEALTHY);
	assert_int_equal(c.min_type, DCONFIG_MOST_CONCURRENCY);
	assert_int_equal(c.min_value, 1);
	dconfig_release(&c);
	builtin("CodeDeployDefault.HalfAtATime", &c);
	assert_int_equal(c.min_type, DCONFIG_FLEET_PERCENT);
	assert_int_equal(c.min_value, 50);
	dconfig_release(&c);
	builtin("CodeDeployDefault.AllAtOnce", &c);
	assert_int_equal(c.min_type, DCONFIG_HOST_COUNT);
	assert_int_equal(c.min_value, 0);
	assert_null(c.health);
	dconfig_copy(&d, &c);
	assert_ptr_not_equal(d.name, c.name);
	assert_string_equal(d.name, c.name);
	dconfig_release(&c);
	dconfig_release(&d);
	assert_int_equal(
		dconfig_builtin("CodeDeployDefault.LambdaAllAtOnce", &c), -1);
	assert_int_equal(dconfig_builtin("OneAtATime", &c), -1);
}

static void test_dconfig__kind_table(void **state)
{
	enum dconfig_kind k;

	(void)state;
	assert_int_equal(dconfig_kind_by_name("canary", &k), 0);
	assert_int_equal(k, DCONFIG_CANARY);
	assert_int_equal(dconfig_kind_by_name("linear", &k), 0);
	assert_int_equal(k, DCONFIG_LINEAR);
	assert_int_equal(dconfig_kind_by_name("minimum-healthy-hosts", &k), 0);
	assert_int_equal(k, DCONFIG_MIN_HEALTHY);
	assert_int_equal(dconfig_kind_by_name("blue-green", &k), -1);
	assert_string_equal(dconfig_kind_ops(DCONFIG_LINEAR)->name, "linear");
	assert_null(dconfig_kind_ops((enum dconfig_kind)42));
}

static void check_one_at_a_time(size_t n)
{
	struct dconfig c;
	struct sim m;
	char want[256];
	int k;
	size_t i;

	builtin("CodeDeployDefault.OneAtATime", &c);
	run(&c, n, NULL, 0, false, &m);
	assert_true(m.ok);
	assert_int_equal(m.nr_batches, n);
	for (i = 0; i < n; i++)
		assert_int_equal(m.batches[i], 1);
	assert_int_equal(m.max_in_flight_seen, 1);
	for (k = 0; k < (int)n; k++) {
		run(&c, n, &k, 1, true, &m);
		assert_int_equal(m.k.failed, 1);
		if ((size_t)k < n - 1) {
			assert_int_equal(m.stops, 1);
			assert_false(m.ok);
			assert_int_equal(m.k.succeeded, k);
			assert_int_equal(m.k.skipped, n - 1 - k);
			snprintf(want, sizeof(want),
				 "1 host failed: going on could leave fewer "
				 "than %zu of %zu hosts healthy",
				 n - 1, n);
			assert_string_equal(m.why, want);
		} else {
			/* the last host's failure is tolerated */
			assert_int_equal(m.stops, 0);
			assert_true(m.ok);
			assert_int_equal(m.k.succeeded, n - 1);
		}
	}
	dconfig_release(&c);
}

static void test_dconfig__one_at_a_time(void **state)
{
	(void)state;
	check_one_at_a_time(4);
	check_one_at_a_time(9);
	check_one_at_a_time(10);
}

static void test_dconfig__one_at_a_time_why(void **state)
{
	struct dconfig c;
	struct sim m;

	(void)state;
	builtin("CodeDeployDefault.OneAtATime", &c);
	RUN(&c, 9, false, &m, 2);
	assert_string_equal(m.why, "1 host failed: going on could leave "
				   "fewer than 8 of 9 hosts healthy");
	assert_int_equal(m.k.skipped, 6);
	dconfig_release(&c);
}

static void test_dconfig__one_at_a_time_single_host(void **state)
{
	struct dconfig c;
	struct sim m;

	(void)state;
	builtin("CodeDeployDefault.OneAtATime", &c);
	RUN(&c, 1, false, &m);
	assert_true(m.ok);
	assert_int_equal(m.k.succeeded, 1);
	RUN(&c, 1, false, &m, 0);
	assert_false(m.ok);
	assert_int_equal(m.stops, 0);
	assert_int_equal(m.k.failed, 1);
	PLAN(&c, 1, 1);
	dconfig_release(&c);
}

static void test_dconfig__half_at_a_time_9(void **state)
{
	struct dconfig c;
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct sim m;

	(void)state;
	builtin("CodeDeployDefault.HalfAtATime", &c);
	assert_int_equal(dsched_start(&s, &c, 9, &e), 0);
	assert_int_equal(s.min_healthy, 5);
	assert_int_equal(s.max_in_flight, 4);
	PLAN(&c, 9, 4, 4, 1);

	RUN(&c, 9, false, &m);
	assert_true(m.ok);
	assert_int_equal(m.nr_batches, 3);
	assert_int_equal(m.max_in_flight_seen, 4);
	RUN(&c, 9, true, &m);
	assert_true(m.ok);
	assert_int_equal(m.max_in_flight_seen, 4);

	/* 3 failures in the first batch: 1 at a time after, 6 succeed */
	RUN(&c, 9, false, &m, 0, 1, 2);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	assert_int_equal(m.k.succeeded, 6);
	assert_int_equal(m.batches[0], 4);
	assert_int_equal(m.batches[1], 1);
	/* ... and a fourth one stops it, 3 skipped */
	RUN(&c, 9, false, &m, 0, 1, 2, 5);
	assert_int_equal(m.stops, 1);
	assert_false(m.ok);
	assert_int_equal(m.k.succeeded, 2);
	assert_int_equal(m.k.skipped, 3);
	assert_string_equal(m.why, "4 hosts failed: going on could leave "
				   "fewer than 5 of 9 hosts healthy");
	/* the whole first batch fails */
	RUN(&c, 9, true, &m, 0, 1, 2, 3);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 5);
	/* the last four fail: 5 succeeded is enough */
	RUN(&c, 9, false, &m, 5, 6, 7, 8);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	assert_int_equal(m.k.succeeded, 5);
	/* 4 of the second batch fail with one pending: stopped, 4 < 5 */
	RUN(&c, 9, false, &m, 4, 5, 6, 7);
	assert_int_equal(m.stops, 1);
	assert_false(m.ok);
	assert_int_equal(m.k.skipped, 1);
	dconfig_release(&c);
}

static void test_dconfig__half_at_a_time_4(void **state)
{
	struct dconfig c;
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct sim m;

	(void)state;
	builtin("CodeDeployDefault.HalfAtATime", &c);
	assert_int_equal(dsched_start(&s, &c, 4, &e), 0);
	assert_int_equal(s.min_healthy, 2);
	assert_int_equal(s.max_in_flight, 2);
	PLAN(&c, 4, 2, 2);
	RUN(&c, 4, false, &m, 3);
	assert_true(m.ok);
	RUN(&c, 4, false, &m, 0, 1);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 2);
	assert_false(m.ok);
	dconfig_release(&c);
}

static void test_dconfig__all_at_once(void **state)
{
	struct dconfig c;
	struct sim m;

	(void)state;
	builtin("CodeDeployDefault.AllAtOnce", &c);
	PLAN(&c, 9, 9);
	RUN(&c, 9, false, &m);
	assert_true(m.ok);
	assert_int_equal(m.nr_batches, 1);
	assert_int_equal(m.batches[0], 9);
	RUN(&c, 9, true, &m, 0, 1, 2, 3, 5, 6, 7, 8);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	assert_int_equal(m.k.succeeded, 1);
	RUN(&c, 9, true, &m, 0, 1, 2, 3, 4, 5, 6, 7, 8);
	assert_int_equal(m.stops, 0);
	assert_false(m.ok);
	assert_int_equal(m.k.failed, 9);
	dconfig_release(&c);
}

static void test_dconfig__host_count_6_of_9(void **state)
{
	struct dconfig c = min_cfg(DCONFIG_HOST_COUNT, 6);
	struct sim m;

	(void)state;
	PLAN(&c, 9, 3, 3, 3);
	RUN(&c, 9, false, &m, 6, 7, 8);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	assert_int_equal(m.k.succeeded, 6);
	RUN(&c, 9, false, &m, 0, 1, 2);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 6);
	assert_false(m.ok);
	RUN(&c, 9, false, &m, 2, 7);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
}

static void test_dconfig__fleet_percent_40_of_9(void **state)
{
	struct dconfig c = min_cfg(DCONFIG_FLEET_PERCENT, 40);
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct sim m;

	(void)state;
	assert_int_equal(dsched_start(&s, &c, 9, &e), 0);
	assert_int_equal(s.min_healthy, 4);
	PLAN(&c, 9, 5, 4);
	RUN(&c, 9, false, &m, 0, 1, 2, 3, 4);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 4);
	assert_false(m.ok);
	RUN(&c, 9, false, &m, 5, 6, 7, 8, 0);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	assert_int_equal(m.k.succeeded, 4);
}

static void test_dconfig__min_at_least_fleet_fails(void **state)
{
	struct dconfig c = min_cfg(DCONFIG_FLEET_PERCENT, 95);

	(void)state;
	assert_start_fails(&c, 10,
			   "the minimum of 10 healthy hosts (FLEET_PERCENT 95) "
			   "cannot be kept on a fleet of 10: nothing could be "
			   "deployed");
	c = min_cfg(DCONFIG_HOST_COUNT, 1);
	assert_start_fails(&c, 1,
			   "the minimum of 1 healthy host (HOST_COUNT 1) "
			   "cannot be kept on a fleet of 1: nothing could be "
			   "deployed");
	c = min_cfg(DCONFIG_HOST_COUNT, 12);
	assert_start_fails(&c, 10,
			   "the minimum of 12 healthy hosts (HOST_COUNT 12) "
			   "cannot be kept on a fleet of 10: nothing could be "
			   "deployed");
	c = min_cfg(DCONFIG_FLEET_PERCENT, 101);
	assert_start_fails(&c, 10,
			   "FLEET_PERCENT 101 is not a percentage (0-100)");
	c = min_cfg(DCONFIG_HOST_COUNT, 0);
	assert_start_fails(&c, 0, "no hosts to deploy to");
}

static void test_dconfig__min_9_8_0_of_10(void **state)
{
	struct dconfig c = min_cfg(DCONFIG_HOST_COUNT, 9);
	struct sim m;

	(void)state;
	PLAN(&c, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
	RUN(&c, 10, false, &m, 9);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	RUN(&c, 10, false, &m, 3);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 6);
	assert_false(m.ok);

	c = min_cfg(DCONFIG_HOST_COUNT, 8);
	PLAN(&c, 10, 2, 2, 2, 2, 2);
	RUN(&c, 10, false, &m, 8, 9);
	assert_true(m.ok);
	RUN(&c, 10, true, &m, 0, 9);
	assert_int_equal(m.stops, 0);
	assert_true(m.ok);
	RUN(&c, 10, true, &m, 0, 5);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 4);
	assert_false(m.ok);

	c = min_cfg(DCONFIG_HOST_COUNT, 0);
	PLAN(&c, 10, 10);
	c = min_cfg(DCONFIG_FLEET_PERCENT, 0);
	PLAN(&c, 10, 10);
}

/* Every failure pattern on small fleets keeps the documented rules. */
static void test_dconfig__min_healthy_exhaustive(void **state)
{
	struct dconfig cs[5];
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct sim m;
	size_t ci, n, i;
	unsigned mask;
	int one;

	(void)state;
	builtin("CodeDeployDefault.OneAtATime", &cs[0]);
	builtin("CodeDeployDefault.HalfAtATime", &cs[1]);
	builtin("CodeDeployDefault.AllAtOnce", &cs[2]);
	cs[3] = min_cfg(DCONFIG_HOST_COUNT, 6);
	cs[4] = min_cfg(DCONFIG_FLEET_PERCENT, 40);
	for (ci = 0; ci < ARRAY_SIZE(cs); ci++) {
		for (n = 1; n <= 10; n++) {
			if (dsched_start(&s, &cs[ci], n, &e) < 0) {
				err_clear(&e);
				continue;
			}
			for (mask = 0; mask < 1u << n; mask++) {
				for (one = 0; one < 2; one++) {
					memset(&m, 0, sizeof(m));
					m.one_by_one = one;
					for (i = 0; i < n; i++)
						m.fail[i] = mask >> i & 1;
					simulate(&cs[ci], n, &m);
					assert_int_equal(
						m.ok,
						m.k.succeeded >=
								s.min_healthy &&
							m.k.succeeded >= 1);
					assert_int_equal(m.k.succeeded +
								 m.k.failed +
								 m.k.skipped,
							 n);
					assert_true(m.max_in_flight_seen <=
						    s.max_in_flight);
					/* all run unless it stopped */
					if (!m.stops)
						assert_int_equal(m.k.skipped,
								 0);
				}
			}
		}
	}
	for (ci = 0; ci < 3; ci++)
		dconfig_release(&cs[ci]);
}

static void test_dconfig__canary_25_of_4(void **state)
{
	struct dconfig c =
		step_cfg(DCONFIG_CANARY, "Canary25", 25, 30000, "./check.sh");
	struct sim m;

	(void)state;
	PLAN(&c, 4, 1, 3);
	RUN(&c, 4, true, &m);
	assert_true(m.ok);
	assert_int_equal(m.nr_batches, 2);
	assert_int_equal(m.batches[0], 1);
	assert_int_equal(m.batches[1], 3);
	assert_int_equal(m.health_runs, 1);
	assert_int_equal(m.health_at[0], m.batch_at[0] + 30000);
	assert_int_equal(m.batch_at[1], m.health_at[0]);
	/* the canary host fails: no second step */
	RUN(&c, 4, true, &m, 0);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 3);
	assert_int_equal(m.health_runs, 0);
	assert_false(m.ok);
	assert_string_equal(m.why, "1 host failed in step 1: no further steps");
	/* a failure in the last step: no stop, failed */
	RUN(&c, 4, true, &m, 3);
	assert_int_equal(m.stops, 0);
	assert_int_equal(m.health_runs, 1);
	assert_false(m.ok);
	assert_int_equal(m.k.succeeded, 3);
	/* ... also while others of the last step still run */
	RUN(&c, 4, true, &m, 1);
	assert_int_equal(m.stops, 0);
	assert_int_equal(m.k.succeeded, 3);
	assert_int_equal(m.k.skipped, 0);
	assert_false(m.ok);
}

static void test_dconfig__canary_25_of_9(void **state)
{
	struct dconfig c =
		step_cfg(DCONFIG_CANARY, "Canary25", 25, 30000, "./check.sh");
	struct sim m;

	(void)state;
	PLAN(&c, 9, 3, 6);
	RUN(&c, 9, false, &m);
	assert_true(m.ok);
	assert_int_equal(m.batches[0], 3);
	assert_int_equal(m.batches[1], 6);
	assert_int_equal(m.health_runs, 1);
	/* the health command fails: the rest is skipped */
	memset(&m, 0, sizeof(m));
	m.health_fail_at = 1;
	simulate(&c, 9, &m);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.health_runs, 1);
	assert_int_equal(m.k.succeeded, 3);
	assert_int_equal(m.k.skipped, 6);
	assert_false(m.ok);
	assert_string_equal(m.why, "health command failed after step 1");
	/* one of three canaries fails while the others run */
	RUN(&c, 9, true, &m, 1);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 6);
	assert_int_equal(m.k.succeeded + m.k.failed, 3);
	assert_false(m.ok);
}

/* Drive a canary by hand: the bake is respected, asked again it holds. */
static void test_dconfig__canary_bake(void **state)
{
	struct dconfig c =
		step_cfg(DCONFIG_CANARY, "Canary25", 25, 30000, "./check.sh");
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct dcounts k = { .pending = 9 };
	struct ddecision d;

	(void)state;
	assert_int_equal(dsched_start(&s, &c, 9, &e), 0);
	dsched_next(&s, &k, 1000, &d);
	assert_int_equal(d.verdict, DSCHED_LAUNCH);
	assert_int_equal(d.launch, 3);
	/* the caller started only 2 so far: 1 more */
	k.pending = 7;
	k.in_flight = 2;
	dsched_next(&s, &k, 1000, &d);
	assert_int_equal(d.verdict, DSCHED_LAUNCH);
	assert_int_equal(d.launch, 1);
	k.pending = 6;
	k.in_flight = 3;
	dsched_next(&s, &k, 1000, &d);
	assert_int_equal(d.verdict, DSCHED_WAIT);
	assert_int_equal(d.until_ms, 0);
	k.in_flight = 0;
	k.succeeded = 3;
	dsched_next(&s, &k, 5000, &d);
	assert_int_equal(d.verdict, DSCHED_WAIT);
	assert_int_equal(d.until_ms, 35000);
	dsched_next(&s, &k, 20000, &d);
	assert_int_equal(d.verdict, DSCHED_WAIT);
	assert_int_equal(d.until_ms, 35000);
	dsched_next(&s, &k, 34999, &d);
	assert_int_equal(d.verdict, DSCHED_WAIT);
	dsched_next(&s, &k, 35000, &d);
	assert_int_equal(d.verdict, DSCHED_HEALTH);
	dsched_next(&s, &k, 36000, &d);
	assert_int_equal(d.verdict, DSCHED_HEALTH);
	dsched_health(&s, true);
	dsched_next(&s, &k, 37000, &d);
	assert_int_equal(d.verdict, DSCHED_LAUNCH);
	assert_int_equal(d.launch, 6);
	k.pending = 0;
	k.in_flight = 6;
	dsched_next(&s, &k, 37000, &d);
	assert_int_equal(d.verdict, DSCHED_WAIT);
	assert_int_equal(d.until_ms, 0);
	/* after the last step neither a bake nor the health command */
	k.in_flight = 0;
	k.succeeded = 9;
	dsched_next(&s, &k, 38000, &d);
	assert_int_equal(d.verdict, DSCHED_DONE);
	assert_true(dsched_succeeded(&s, &k));
}

/* A stop is told once; then wait for the hosts in flight, then done. */
static void test_dconfig__stop_once(void **state)
{
	struct dconfig c = step_cfg(DCONFIG_LINEAR, "L", 50, 0, NULL);
	struct dsched s;
	struct sw_err e = SW_ERR_INIT;
	struct dcounts k = { .pending = 4 };
	struct ddecision d;

	(void)state;
	assert_int_equal(dsched_start(&s, &c, 4, &e), 0);
	dsched_next(&s, &k, 1, &d);
	assert_int_equal(d.verdict, DSCHED_LAUNCH);
	assert_int_equal(d.launch, 2);
	k.pending = 2;
	k.in_flight = 1;
	k.failed = 1;
	dsched_next(&s, &k, 2, &d);
	assert_int_equal(d.verdict, DSCHED_STOP);
	assert_true(s.stopped);
	assert_string_equal(d.why, "1 host failed in step 1: no further steps");
	assert_string_equal(s.why, d.why);
	dsched_next(&s, &k, 3, &d);
	assert_int_equal(d.verdict, DSCHED_WAIT);
	assert_int_equal(d.until_ms, 0);
	k.in_flight = 0;
	k.succeeded = 1;
	dsched_next(&s, &k, 4, &d);
	assert_int_equal(d.verdict, DSCHED_DONE);
	assert_false(dsched_succeeded(&s, &k));
}

static void test_dconfig__linear_20_of_9(void **state)
{
	struct dconfig c =
		step_cfg(DCONFIG_LINEAR, "Linear20", 20, 10000, "./check.sh");
	struct sim m;
	size_t i;

	(void)state;
	PLAN(&c, 9, 2, 2, 2, 2, 1);
	RUN(&c, 9, true, &m);
	assert_true(m.ok);
	assert_int_equal(m.nr_batches, 5);
	assert_int_equal(m.health_runs, 4);
	for (i = 1; i < 5; i++)
		assert_int_equal(m.batch_at[i] - m.batch_at[i - 1], 10000);
	/* a host of step 1 fails */
	RUN(&c, 9, true, &m, 1);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 7);
	assert_int_equal(m.health_runs, 0);
	assert_false(m.ok);
	assert_string_equal(m.why, "1 host failed in step 1: no further steps");
	/* a host of step 3 fails */
	RUN(&c, 9, false, &m, 4);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.k.skipped, 3);
	assert_int_equal(m.health_runs, 2);
	assert_string_equal(m.why, "1 host failed in step 3: no further steps");
	/* the second health run fails */
	memset(&m, 0, sizeof(m));
	m.health_fail_at = 2;
	simulate(&c, 9, &m);
	assert_int_equal(m.stops, 1);
	assert_int_equal(m.health_runs, 2);
	assert_int_equal(m.k.succeeded, 4);
	assert_int_equal(m.k.skipped, 5);
	assert_string_equal(m.why, "health command failed after step 2");
	assert_false(m.ok);
}

static void test_dconfig__linear_without_wait(void **state)
{
	struct dconfig c = step_cfg(DCONFIG_LINEAR, "L", 100, 0, NULL);
	struct sim m;

	(void)state;
	PLAN(&c, 5, 5);
	c.percent = 10;
	PLAN(&c, 5, 1, 1, 1, 1, 1);
	RUN(&c, 5, false, &m);
	assert_true(m.ok);
	assert_int_equal(m.health_runs, 0);
	c.kind = DCONFIG_CANARY;
	PLAN(&c, 5, 1, 4);
	c.percent = 100;
	PLAN(&c, 1, 1);
}

static void test_dconfig__step_bad_values(void **state)
{
	struct dconfig c = step_cfg(DCONFIG_CANARY, "C", 0, 1000, NULL);

	(void)state;
	assert_start_fails(&c, 4, "canary percentage 0 is not in 1-100");
	c.percent = 101;
	assert_start_fails(&c, 4, "canary percentage 101 is not in 1-100");
	c = step_cfg(DCONFIG_LINEAR, "L", 0, 1000, NULL);
	assert_start_fails(&c, 4, "linear percentage 0 is not in 1-100");
	c.percent = 10;
	c.interval_ms = -1;
	assert_start_fails(&c, 4, "linear wait -1ms < 0");
	c.interval_ms = 0;
	assert_start_fails(&c, 0, "no hosts to deploy to");
}

static void test_dconfig__describe(void **state)
{
	struct dconfig c;

	(void)state;
	builtin("CodeDeployDefault.HalfAtATime", &c);
	assert_describe(&c, 9,
			"CodeDeployDefault.HalfAtATime: minimum healthy 5 of 9 "
			"(FLEET_PERCENT 50); up to 4 hosts at a time; succeeds "
			"when at least 5 succeed");
	dconfig_release(&c);
	builtin("CodeDeployDefault.OneAtATime", &c);
	assert_describe(&c, 9,
			"CodeDeployDefault.OneAtATime: minimum healthy 8 of 9 "
			"(MOST_CONCURRENCY 1); 1 host at a time; succeeds when "
			"at least 8 succeed");
	assert_describe(&c, 1,
			"CodeDeployDefault.OneAtATime: minimum healthy 0 of 1 "
			"(MOST_CONCURRENCY 1); 1 host at a time; succeeds when "
			"at least 1 succeeds");
	dconfig_release(&c);
	builtin("CodeDeployDefault.AllAtOnce", &c);
	assert_describe(&c, 9,
			"CodeDeployDefault.AllAtOnce: minimum healthy 0 of 9 "
			"(HOST_COUNT 0); all 9 hosts at once; succeeds when at "
			"least 1 succeeds");
	dconfig_release(&c);
	c = min_cfg(DCONFIG_HOST_COUNT, 6);
	assert_describe(&c, 9,
			"minimum-healthy-hosts: minimum healthy 6 of 9 "
			"(HOST_COUNT 6); up to 3 hosts at a time; succeeds "
			"when at least 6 succeed");
	c = step_cfg(DCONFIG_CANARY, "Canary25", 25, 30000, "./check.sh");
	assert_describe(&c, 12,
			"Canary25: 3 hosts first, then 9 after 30s and the "
			"health command; any failure stops; succeeds when all "
			"12 succeed");
	c.health = NULL;
	c.interval_ms = 90000;
	assert_describe(&c, 4,
			"Canary25: 1 host first, then 3 after 1m30s; any "
			"failure stops; succeeds when all 4 succeed");
	c.interval_ms = 0;
	assert_describe(&c, 4,
			"Canary25: 1 host first, then 3 right away; any "
			"failure stops; succeeds when all 4 succeed");
	c = step_cfg(DCONFIG_LINEAR, "Linear20", 20, 3600000, "./check.sh");
	assert_describe(&c, 9,
			"Linear20: 5 steps of 2 hosts (the last 1), 1h and the "
			"health command between steps; any failure stops; "
			"succeeds when all 9 succeed");
	c.percent = 100;
	assert_describe(&c, 1,
			"Linear20: all 1 host at once; any failure stops; "
			"succeeds when the 1 succeeds");
}

static void check_big(const struct dconfig *c, size_t n)
{
	struct sw_err e = SW_ERR_INIT;
	struct sim m;
	size_t *sizes, nr, i, sum = 0;
	uint32_t seed = 12345;
	int round, one;

	assert_int_equal(dsched_plan(c, n, &sizes, &nr, &e), 0);
	for (i = 0; i < nr; i++)
		sum += sizes[i];
	assert_int_equal(sum, n);
	free(sizes);
	for (one = 0; one < 2; one++) {
		run(c, n, NULL, 0, one, &m);
		assert_true(m.ok);
		assert_int_equal(m.k.succeeded, n);
		for (i = 0; i < n; i++)
			assert_int_equal(m.launched[i], 1);
		if (!one)
			assert_int_equal(m.nr_batches, nr);
	}
	/* random failures, deterministic */
	for (round = 0; round < 20; round++) {
		memset(&m, 0, sizeof(m));
		m.one_by_one = round & 1;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			m.fail[i] = (seed >> 16) % 10 < (unsigned)round % 4;
		}
		simulate(c, n, &m);
		assert_int_equal(m.k.succeeded + m.k.failed + m.k.skipped, n);
		for (i = 0; i < n; i++)
			assert_int_equal(m.launched[i],
					 m.st[i] == H_SKIPPED ? 0 : 1);
	}
}

static void test_dconfig__big_fleets(void **state)
{
	static const char *const names[] = {
		"CodeDeployDefault.OneAtATime",
		"CodeDeployDefault.HalfAtATime",
		"CodeDeployDefault.AllAtOnce",
	};
	struct dconfig c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		builtin(names[i], &c);
		check_big(&c, 50);
		check_big(&c, 100);
		dconfig_release(&c);
	}
	c = min_cfg(DCONFIG_FLEET_PERCENT, 50);
	PLAN(&c, 100, 50, 50);
	c = step_cfg(DCONFIG_CANARY, "C", 10, 1000, "true");
	check_big(&c, 100);
	c = step_cfg(DCONFIG_LINEAR, "L", 7, 1000, "true");
	check_big(&c, 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dconfig__builtins),
		cmocka_unit_test(test_dconfig__kind_table),
		cmocka_unit_test(test_dconfig__one_at_a_time),
		cmocka_unit_test(test_dconfig__one_at_a_time_why),
		cmocka_unit_test(test_dconfig__one_at_a_time_single_host),
		cmocka_unit_test(test_dconfig__half_at_a_time_9),
		cmocka_unit_test(test_dconfig__half_at_a_time_4),
		cmocka_unit_test(test_dconfig__all_at_once),
		cmocka_unit_test(test_dconfig__host_count_6_of_9),
		cmocka_unit_test(test_dconfig__fleet_percent_40_of_9),
		cmocka_unit_test(test_dconfig__min_at_least_fleet_fails),
		cmocka_unit_test(test_dconfig__min_9_8_0_of_10),
		cmocka_unit_test(test_dconfig__min_healthy_exhaustive),
		cmocka_unit_test(test_dconfig__canary_25_of_4),
		cmocka_unit_test(test_dconfig__canary_25_of_9),
		cmocka_unit_test(test_dconfig__canary_bake),
		cmocka_unit_test(test_dconfig__stop_once),
		cmocka_unit_test(test_dconfig__linear_20_of_9),
		cmocka_unit_test(test_dconfig__linear_without_wait),
		cmocka_unit_test(test_dconfig__step_bad_values),
		cmocka_unit_test(test_dconfig__describe),
		cmocka_unit_test(test_dconfig__big_fleets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
