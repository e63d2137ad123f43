#include "dconfig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#include "banned.h"

/* The canary and linear kinds' s->phase. */
enum {
	STEP_READY, /* the next step may begin */
	STEP_RUN, /* a step began: launch its hosts, wait for them */
	STEP_BAKE, /* it ended well: wait until s->wait_until_ms */
	STEP_HEALTH, /* DSCHED_HEALTH given, waiting for dsched_health */
};

static const struct {
	const char *name;
	enum dconfig_min_type type;
	unsigned value;
} builtins[] = {
	{ "CodeDeployDefault.OneAtATime", DCONFIG_MOST_CONCURRENCY, 1 },
	{ "CodeDeployDefault.HalfAtATime", DCONFIG_FLEET_PERCENT, 50 },
	{ "CodeDeployDefault.AllAtOnce", DCONFIG_HOST_COUNT, 0 },
};

int dconfig_builtin(const char *name, struct dconfig *c)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(builtins); i++) {
		if (strcmp(name, builtins[i].name))
			continue;
		memset(c, 0, sizeof(*c));
		c->name = xstrdup(builtins[i].name);
		c->kind = DCONFIG_MIN_HEALTHY;
		c->min_type = builtins[i].type;
		c->min_value = builtins[i].value;
		return 0;
	}
	return -1;
}

void dconfig_release(struct dconfig *c)
{
	free(c->name);
	free(c->health);
	memset(c, 0, sizeof(*c));
}

void dconfig_copy(struct dconfig *dst, const struct dconfig *src)
{
	*dst = *src;
	dst->name = xstrdup_or_null(src->name);
	dst->health = xstrdup_or_null(src->health);
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static const char *min_type_name(enum dconfig_min_type t)
{
	switch (t) {
	case DCONFIG_HOST_COUNT:
		return "HOST_COUNT";
	case DCONFIG_FLEET_PERCENT:
		return "FLEET_PERCENT";
	case DCONFIG_MOST_CONCURRENCY:
		return "MOST_CONCURRENCY";
	}
	return "?";
}

/* ceil(n * percent / 100) */
static size_t percent_of(size_t n, unsigned percent)
{
	return (size_t)(((uint64_t)n * percent + 99) / 100);
}

/* "30s", "1m30s", "2h", "250ms", as the group file writes them */
static void add_duration(struct buf *out, int64_t ms)
{
	int64_t s = ms / 1000;

	if (ms % 1000 || ms == 0) {
		buf_addf(out, "%" PRId64 "ms", ms);
		return;
	}
	if (s >= 3600)
		buf_addf(out, "%" PRId64 "h", s / 3600);
	if (s % 3600 >= 60)
		buf_addf(out, "%" PRId64 "m", s % 3600 / 60);
	if (s % 60)
		buf_addf(out, "%" PRId64 "s", s % 60);
}

static void stop(struct dsched *s, struct ddecision *d)
{
	s->stopped = true;
	d->verdict = DSCHED_STOP;
	d->why = s->why;
}

static void wait_for(struct ddecision *d, int64_t until_ms)
{
	d->verdict = DSCHED_WAIT;
	d->until_ms = until_ms;
}

static void launch(struct ddecision *d, size_t nr)
{
	d->verdict = DSCHED_LAUNCH;
	d->launch = nr;
}

/* minimum-healthy-hosts (section 3.2, the derived model) */

static int mh_start(struct dsched *s, struct sw_err *e)
{
	const struct dconfig *c = s->c;
	size_t m;

	switch (c->min_type) {
	case DCONFIG_MOST_CONCURRENCY:
		if (c->min_value != 1)
			return err_set(e, ERR_FAILED,
				       "MOST_CONCURRENCY %u is not supported "
				       "(only 1)",
				       c->min_value);
		s->min_healthy = s->n - 1;
		s->max_in_flight = 1;
		return 0;
	case DCONFIG_FLEET_PERCENT:
		if (c->min_value > 100)
			return err_set(e, ERR_FAILED,
				       "FLEET_PERCENT %u is not a percentage "
				       "(0-100)",
				       c->min_value);
		m = percent_of(s->n, c->min_value);
		break;
	case DCONFIG_HOST_COUNT:
		m = c->min_value;
		break;
	default:
		return err_set(e, ERR_FAILED,
			       "unknown minimum healthy hosts type %d",
			       (int)c->min_type);
	}
	if (m >= s->n)
		return err_set(e, ERR_FAILED,
			       "the minimum of %zu healthy host%s (%s %u) "
			       "cannot be kept on a fleet of %zu: nothing "
			       "could be deployed",
			       m, plural(m), min_type_name(c->min_type),
			       c->min_value, s->n);
	s->min_healthy = m;
	s->max_in_flight = s->n - m;
	return 0;
}

/*
 * Hosts not yet failed count as healthy, so keeping M healthy allows
 * N - M - failed in flight; when that reaches 0 nothing pending can
 * ever start, and the deployment stops.
 */
static void mh_next(struct dsched *s, const struct dcounts *k, int64_t now_ms,
		    struct ddecision *d)
{
	size_t room;

	(void)now_ms;
	if (k->failed >= s->max_in_flight) {
		if (k->pending == 0) {
			wait_for(d, 0);
			return;
		}
		snprintf(s->why, sizeof(s->why),
			 "%zu host%s failed: going on could leave fewer than "
			 "%zu of %zu hosts healthy",
			 k->failed, plural(k->failed), s->min_healthy, s->n);
		stop(s, d);
		return;
	}
	room = s->max_in_flight - k->failed;
	if (k->pending > 0 && room > k->in_flight) {
		room -= k->in_flight;
		launch(d, room < k->pending ? room : k->pending);
		return;
	}
	wait_for(d, 0);
}

static bool mh_succeeded(const struct dsched *s, const struct dcounts *k)
{
	return k->succeeded >= s->min_healthy && k->succeeded >= 1;
}

static void mh_describe(const struct dsched *s, struct buf *out)
{
	size_t need = s->min_healthy ? s->min_healthy : 1;

	buf_addf(out, "minimum healthy %zu of %zu (%s %u); ", s->min_healthy,
		 s->n, min_type_name(s->c->min_type), s->c->min_value);
	if (s->max_in_flight >= s->n && s->n > 1)
		buf_addf(out, "all %zu hosts at once", s->n);
	else if (s->max_in_flight == 1)
		buf_addstr(out, "1 host at a time");
	else
		buf_addf(out, "up to %zu hosts at a time", s->max_in_flight);
	buf_addf(out, "; succeeds when at least %zu succeed%s", need,
		 need == 1 ? "s" : "");
}

/* canary and linear: steps, each waited for, baked and health-checked */

static int step_start(struct dsched *s, const char *what, struct sw_err *e)
{
	const struct dconfig *c = s->c;

	if (c->percent < 1 || c->percent > 100)
		return err_set(e, ERR_FAILED,
			       "%s percentage %u is not in 1-100", what,
			       c->percent);
	if (c->interval_ms < 0)
		return err_set(e, ERR_FAILED, "%s wait %" PRId64 "ms < 0", what,
			       c->interval_ms);
	s->step_size = percent_of(s->n, c->percent);
	if (s->step_size < 1)
		s->step_size = 1;
	if (s->step_size > s->n)
		s->step_size = s->n;
	s->min_healthy = s->n;
	s->phase = STEP_READY;
	return 0;
}

static int canary_start(struct dsched *s, struct sw_err *e)
{
	return step_start(s, "canary", e);
}

static int linear_start(struct dsched *s, struct sw_err *e)
{
	return step_start(s, "linear", e);
}

static size_t canary_step(const struct dsched *s)
{
	return s->step ? s->n - s->steps_started : s->step_size;
}

static size_t linear_step(const struct dsched *s)
{
	size_t left = s->n - s->steps_started;

	return left < s->step_size ? left : s->step_size;
}

static void step_next(struct dsched *s, const struct dcounts *k, int64_t now_ms,
		      struct ddecision *d,
		      size_t (*step_size)(const struct dsched *s))
{
	size_t started = k->in_flight + k->succeeded + k->failed;

	if (s->health_failed) {
		stop(s, d);
		return;
	}
	if (k->failed > 0) {
		if (k->pending == 0) {
			wait_for(d, 0);
			return;
		}
		snprintf(s->why, sizeof(s->why),
			 "%zu host%s failed in step %u: no further steps",
			 k->failed, plural(k->failed), s->step);
		stop(s, d);
		return;
	}
	for (;;) {
		switch (s->phase) {
		case STEP_READY:
			s->steps_started += step_size(s);
			s->step++;
			s->phase = STEP_RUN;
			continue;
		case STEP_RUN:
			if (started < s->steps_started && k->pending > 0) {
				size_t nr = s->steps_started - started;

				launch(d, nr < k->pending ? nr : k->pending);
				return;
			}
			if (k->in_flight > 0) {
				wait_for(d, 0);
				return;
			}
			/* The step ended well and hosts are pending. */
			s->wait_until_ms = now_ms + s->c->interval_ms;
			s->phase = STEP_BAKE;
			continue;
		case STEP_BAKE:
			if (now_ms < s->wait_until_ms) {
				wait_for(d, s->wait_until_ms);
				return;
			}
			s->wait_until_ms = 0;
			s->phase = s->c->health ? STEP_HEALTH : STEP_READY;
			continue;
		case STEP_HEALTH:
			d->verdict = DSCHED_HEALTH;
			return;
		default:
			BUG("dsched: phase %d", s->phase);
		}
	}
}

static void canary_next(struct dsched *s, const struct dcounts *k,
			int64_t now_ms, struct ddecision *d)
{
	step_next(s, k, now_ms, d, canary_step);
}

static void linear_next(struct dsched *s, const struct dcounts *k,
			int64_t now_ms, struct ddecision *d)
{
	step_next(s, k, now_ms, d, linear_step);
}

static bool step_succeeded(const struct dsched *s, const struct dcounts *k)
{
	return !s->stopped && !s->health_failed && k->succeeded == s->n;
}

static void add_between(const struct dsched *s, struct buf *out)
{
	if (s->c->interval_ms > 0) {
		add_duration(out, s->c->interval_ms);
		if (s->c->health)
			buf_addstr(out, " and the health command");
	} else if (s->c->health) {
		buf_addstr(out, "the health command");
	} else {
		buf_addstr(out, "nothing");
	}
}

static void add_tail(const struct dsched *s, struct buf *out)
{
	buf_addf(out, "; any failure stops; succeeds when %s %zu succeed%s",
		 s->n == 1 ? "the" : "all", s->n, s->n == 1 ? "s" : "");
}

static void canary_describe(const struct dsched *s, struct buf *out)
{
	if (s->step_size >= s->n) {
		buf_addf(out, "all %zu host%s at once", s->n, plural(s->n));
	} else {
		buf_addf(out, "%zu host%s first, then %zu", s->step_size,
			 plural(s->step_size), s->n - s->step_size);
		if (s->c->interval_ms > 0 || s->c->health) {
			buf_addstr(out, " after ");
			add_between(s, out);
		} else {
			buf_addstr(out, " right away");
		}
	}
	add_tail(s, out);
}

static void linear_describe(const struct dsched *s, struct buf *out)
{
	size_t steps = (s->n + s->step_size - 1) / s->step_size;

	if (steps == 1) {
		buf_addf(out, "all %zu host%s at once", s->n, plural(s->n));
	} else {
		buf_addf(out, "%zu steps of %zu host%s", steps, s->step_size,
			 plural(s->step_size));
		if (s->n % s->step_size)
			buf_addf(out, " (the last %zu)", s->n % s->step_size);
		buf_addstr(out, ", ");
		add_between(s, out);
		buf_addstr(out, " between steps");
	}
	add_tail(s, out);
}

/* The one place that knows the kinds. */
static const struct dconfig_kind_ops kinds[] = {
	{ DCONFIG_MIN_HEALTHY, "minimum-healthy-hosts", mh_start, mh_next,
	  mh_succeeded, mh_describe },
	{ DCONFIG_CANARY, "canary", canary_start, canary_next, step_succeeded,
	  canary_describe },
	{ DCONFIG_LINEAR, "linear", linear_start, linear_next, step_succeeded,
	  linear_describe },
};

const struct dconfig_kind_ops *dconfig_kind_ops(enum dconfig_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i].kind == kind)
			return &kinds[i];
	return NULL;
}

int dconfig_kind_by_name(const char *name, enum dconfig_kind *kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		if (!strcmp(kinds[i].name, name)) {
			*kind = kinds[i].kind;
			return 0;
		}
	}
	return -1;
}

int dsched_start(struct dsched *s, const struct dconfig *c, size_t n,
		 struct sw_err *e)
{
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->n = n;
	s->ops = dconfig_kind_ops(c->kind);
	if (!s->ops)
		return err_set(e, ERR_FAILED,
			       "unknown deployment configuration kind %d",
			       (int)c->kind);
	if (n == 0)
		return err_set(e, ERR_FAILED, "no hosts to deploy to");
	return s->ops->start(s, e);
}

void dsched_next(struct dsched *s, const struct dcounts *k, int64_t now_ms,
		 struct ddecision *d)
{
	size_t sum = k->pending + k->in_flight + k->succeeded + k->failed +
		     k->skipped;

	memset(d, 0, sizeof(*d));
	if (sum != s->n)
		BUG("dsched: counts add up to %zu, not %zu hosts", sum, s->n);
	if (s->stopped || (k->pending == 0 && k->in_flight == 0)) {
		if (k->in_flight > 0)
			wait_for(d, 0);
		else
			d->verdict = DSCHED_DONE;
		return;
	}
	s->ops->next(s, k, now_ms, d);
}

void dsched_health(struct dsched *s, bool ok)
{
	if (s->phase != STEP_HEALTH)
		BUG("dsched_health without DSCHED_HEALTH");
	if (ok) {
		s->phase = STEP_READY;
		return;
	}
	s->health_failed = true;
	snprintf(s->why, sizeof(s->why), "health command failed after step %u",
		 s->step);
}

bool dsched_succeeded(const struct dsched *s, const struct dcounts *k)
{
	return s->ops->succeeded(s, k);
}

void dsched_describe(const struct dsched *s, struct buf *out)
{
	buf_addf(out, "%s: ", s->c->name ? s->c->name : s->ops->name);
	s->ops->describe(s, out);
}

int dsched_plan(const struct dconfig *c, size_t n, size_t **sizes, size_t *nr,
		struct sw_err *e)
{
	struct dsched s;
	struct dcounts k = { 0 };
	struct ddecision d;
	size_t alloc = 0;
	int64_t now = 1;

	*sizes = NULL;
	*nr = 0;
	if (dsched_start(&s, c, n, e) < 0)
		return -1;
	k.pending = n;
	for (;;) {
		dsched_next(&s, &k, now, &d);
		switch (d.verdict) {
		case DSCHED_LAUNCH:
			ALLOC_GROW(*sizes, *nr + 1, alloc);
			(*sizes)[(*nr)++] = d.launch;
			k.pending -= d.launch;
			k.succeeded += d.launch;
			break;
		case DSCHED_WAIT:
			if (!d.until_ms)
				BUG("dsched_plan: waiting with nothing in "
				    "flight");
			now = d.until_ms;
			break;
		case DSCHED_HEALTH:
			dsched_health(&s, true);
			break;
		case DSCHED_DONE:
			return 0;
		case DSCHED_STOP:
			BUG("dsched_plan: stopped with no failure: %s", d.why);
		}
	}
}
