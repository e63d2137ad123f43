#include "reports.h"

#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts.h"
#include "buf.h"
#include "xalloc.h"
#include "banned.h"

/* Text gathered from an element to find the first line of a message. */
#define TEXT_CAP 4096
/* Element depth we walk (libxml2 itself stops at 256). */
#define MAX_DEPTH 512
/* Nesting json-c accepts in CUCUMBERJSON and SIMPLECOV. */
#define JSON_DEPTH 64

enum fmt {
	F_JUNIT,
	F_NUNIT,
	F_NUNIT3,
	F_TESTNG,
	F_TRX,
	F_CUCUMBER,
	F_COBERTURA,
	F_JACOCO,
	F_CLOVER,
	F_SIMPLECOV,
	F_UNKNOWN
};

static const struct {
	const char *name;
	enum fmt f;
	enum report_type type;
	bool json;
} formats[] = {
	{ "JUNITXML", F_JUNIT, REPORT_TEST, false },
	{ "NUNITXML", F_NUNIT, REPORT_TEST, false },
	{ "NUNIT3XML", F_NUNIT3, REPORT_TEST, false },
	{ "TESTNGXML", F_TESTNG, REPORT_TEST, false },
	{ "VISUALSTUDIOTRX", F_TRX, REPORT_TEST, false },
	{ "CUCUMBERJSON", F_CUCUMBER, REPORT_TEST, true },
	{ "COBERTURAXML", F_COBERTURA, REPORT_CODE_COVERAGE, false },
	{ "JACOCOXML", F_JACOCO, REPORT_CODE_COVERAGE, false },
	{ "CLOVERXML", F_CLOVER, REPORT_CODE_COVERAGE, false },
	{ "SIMPLECOV", F_SIMPLECOV, REPORT_CODE_COVERAGE, true },
};

/* One group being processed. */
struct ctx {
	struct report_result *r;
	enum fmt fmt;
	const char *shown; /* the current file, as named in warnings */
	/* coverage rates from files without counts, the last one seen */
	double line_rate, branch_rate;
	bool have_line_rate, have_branch_rate;
};

static const char *const type_names[] = { "TEST", "CODE_COVERAGE" };
static const char *const status_names[] = { "SUCCEEDED", "FAILED",
					    "INCOMPLETE" };
static const char *const case_names[] = { "SUCCEEDED", "FAILED", "SKIPPED",
					  "ERROR", "UNKNOWN" };

const char *report_type_name(enum report_type t)
{
	if ((size_t)t >= ARRAY_SIZE(type_names))
		BUG("bad report type %d", (int)t);
	return type_names[t];
}

const char *report_status_name(enum report_status s)
{
	if ((size_t)s >= ARRAY_SIZE(status_names))
		BUG("bad report status %d", (int)s);
	return status_names[s];
}

const char *report_case_status_name(enum report_case_status s)
{
	if ((size_t)s >= ARRAY_SIZE(case_names))
		BUG("bad test case status %d", (int)s);
	return case_names[s];
}

void reports_result_release(struct report_result *r)
{
	free(r->name);
	free(r->file_format);
	strvec_release(&r->files);
	for (size_t i = 0; i < r->nr_failures; i++) {
		free(r->failures[i].name);
		free(r->failures[i].suite);
		free(r->failures[i].message);
	}
	free(r->failures);
	strvec_release(&r->warnings);
	memset(r, 0, sizeof(*r));
}

static void warn(struct ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warn(struct ctx *c, int line, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (c->shown && line > 0)
		buf_addf(&b, "%s:%d: ", c->shown, line);
	else if (c->shown)
		buf_addf(&b, "%s: ", c->shown);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	strvec_push_nodup(&c->r->warnings, buf_detach(&b));
}

/* ---- numbers ---- */

/*
 * A non-negative decimal ("12.5", "1,234.5", "0,5", "1.0E-4") times
 * 10^scale, truncated, saturating. ',' is a thousands separator when the
 * text has a '.', else the decimal point. Strtod would follow the locale.
 */
static bool parse_dec(const char *s, int scale, uint64_t *out)
{
	uint64_t mant = 0;
	int exp10 = scale;
	bool any = false, dot = false, has_dot;

	if (!s)
		return false;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '+')
		s++;
	has_dot = strchr(s, '.') != NULL;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			any = true;
			if (mant < 100000000000000000ULL) {
				mant = mant * 10 + (uint64_t)(*s - '0');
				if (dot)
					exp10--;
			} else if (!dot) {
				exp10++;
			}
		} else if (*s == '.' || (*s == ',' && !has_dot)) {
			if (dot)
				break;
			dot = true;
		} else if (*s != ',') {
			break;
		}
	}
	if (!any)
		return false;
	if (*s == 'e' || *s == 'E') {
		int sign = 1, ev = 0;

		s++;
		if (*s == '-' || *s == '+')
			sign = *s++ == '-' ? -1 : 1;
		for (; *s >= '0' && *s <= '9'; s++)
			if (ev < 1000)
				ev = ev * 10 + (*s - '0');
		exp10 += sign * ev;
	}
	for (; exp10 > 0 && mant; exp10--) {
		if (mant > UINT64_MAX / 10) {
			mant = UINT64_MAX;
			break;
		}
		mant *= 10;
	}
	for (; exp10 < 0 && mant; exp10++)
		mant /= 10;
	*out = mant;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	return parse_dec(s, 0, out);
}

/* A rate 0..1 (or a percentage 0..100 with pct) as a double. */
static bool parse_frac(const char *s, double *out)
{
	uint64_t v;

	if (!parse_dec(s, 9, &v))
		return false;
	*out = (double)v / 1e9;
	return true;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- strings ---- */

/*
 * The first non-blank line of s, trimmed, at most REPORTS_MAX_MESSAGE
 * bytes cut at a UTF-8 character boundary. Caller frees.
 */
static char *first_line(const char *s)
{
	const char *end;
	size_t n;

	if (!s)
		return xstrdup("");
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	end = s + strcspn(s, "\r\n");
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - s);
	if (n > REPORTS_MAX_MESSAGE) {
		n = REPORTS_MAX_MESSAGE;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return xstrndup(s, n);
}

static bool blank(const char *s)
{
	return !s || !s[strspn(s, " \t\r\n")];
}

/*
 * first_line() of the first line of s that says something: go test's
 * "=== RUN" / "=== PAUSE" / "=== CONT" progress lines are passed over.
 */
static char *message_line(const char *s)
{
	const char *p = s;

	while (p && *p) {
		const char *t = p + strspn(p, " \t\r\n");

		if (strncmp(t, "=== RUN", 7) && strncmp(t, "=== PAUSE", 9) &&
		    strncmp(t, "=== CONT", 8))
			return first_line(t);
		p = strchr(t, '\n');
	}
	return first_line(s);
}

/* ---- result building ---- */

static void add_case(struct ctx *c, enum report_case_status st,
		     const char *name, const char *suite, const char *msg,
		     uint64_t ns)
{
	struct report_result *r = c->r;
	struct report_failure *f;

	r->total++;
	r->counts[st]++;
	r->duration_ns = add_sat(r->duration_ns, ns);
	if (st != REPORT_CASE_FAILED && st != REPORT_CASE_ERROR)
		return;
	if (r->nr_failures >= REPORTS_MAX_FAILURES)
		return;
	ALLOC_GROW(r->failures, r->nr_failures + 1, r->alloc_failures);
	f = &r->failures[r->nr_failures++];
	f->name = first_line(name);
	f->suite = first_line(suite);
	f->message = first_line(msg);
	f->status = st;
}

static void add_lines(struct ctx *c, uint64_t covered, uint64_t total)
{
	if (covered > total)
		covered = total;
	c->r->lines_covered = add_sat(c->r->lines_covered, covered);
	c->r->lines_missed = add_sat(c->r->lines_missed, total - covered);
}

static void add_branches(struct ctx *c, uint64_t covered, uint64_t total)
{
	if (covered > total)
		covered = total;
	c->r->branches_covered = add_sat(c->r->branches_covered, covered);
	c->r->branches_missed = add_sat(c->r->branches_missed, total - covered);
}

/* ---- XML helpers ---- */

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE &&
	       !strcmp((const char *)n->name, name);
}

/*
 * The value of attribute `name` (any namespace), or NULL. Only literal
 * text counts: a reference to a user-defined entity is not expanded.
 */
static const char *attr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (strcmp((const char *)a->name, name))
			continue;
		for (const xmlNode *t = a->children; t; t = t->next)
			if (t->type == XML_TEXT_NODE && t->content)
				return (const char *)t->content;
		return "";
	}
	return NULL;
}

static const char *attr_or(const xmlNode *n, const char *name, const char *dflt)
{
	const char *v = attr(n, name);

	return v && *v ? v : dflt;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (const xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (is(k, name))
			return k;
	return NULL;
}

/*
 * Append the text and CDATA below n to b, up to about cap bytes. Entity
 * references are skipped, never expanded, so a hostile document cannot
 * make this walk large.
 */
static void text_of(const xmlNode *n, struct buf *b, size_t cap, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	for (const xmlNode *k = n->children; k && b->len < cap; k = k->next) {
		if ((k->type == XML_TEXT_NODE ||
		     k->type == XML_CDATA_SECTION_NODE) &&
		    k->content) {
			size_t len = strlen((const char *)k->content);

			buf_add(b, k->content, len < cap ? len : cap);
		} else if (k->type == XML_ELEMENT_NODE) {
			text_of(k, b, cap, depth + 1);
		}
	}
}

/* The message of a <failure>-like element: a useful message attribute,
 * else the first non-blank line of its text. Caller frees. */
static char *element_message(const xmlNode *n, const char *msg_attr)
{
	const char *m;
	struct buf b = BUF_INIT;
	char *s;

	if (!n)
		return xstrdup("");
	m = msg_attr ? attr(n, msg_attr) : NULL;
	/* go-junit-report's message is the constant "Failed" */
	if (!blank(m) && strcmp(m, "Failed"))
		return first_line(m);
	text_of(n, &b, TEXT_CAP, 0);
	if (blank(buf_cstr(&b))) {
		buf_release(&b);
		if (!blank(m))
			return first_line(m);
		return first_line(attr(n, "type"));
	}
	s = message_line(buf_cstr(&b));
	buf_release(&b);
	return s;
}

/* ---- JUNITXML ---- */

static void junit_case(struct ctx *c, const xmlNode *tc, const char *suite)
{
	enum report_case_status st = REPORT_CASE_SUCCEEDED;
	const xmlNode *bad = NULL;
	const char *v, *name, *cls;
	uint64_t ns = 0;
	char *msg;

	for (const xmlNode *k = tc->children; k; k = k->next) {
		if (bad)
			break;
		if (is(k, "failure")) {
			st = REPORT_CASE_FAILED;
			bad = k;
		} else if (is(k, "error")) {
			st = REPORT_CASE_ERROR;
			bad = k;
		} else if (is(k, "skipped")) {
			st = REPORT_CASE_SKIPPED;
		}
	}
	/* googletest */
	if (st == REPORT_CASE_SUCCEEDED) {
		v = attr(tc, "status");
		if (v && !strcmp(v, "notrun"))
			st = REPORT_CASE_SKIPPED;
		v = attr(tc, "result");
		if (v && (!strcmp(v, "skipped") || !strcmp(v, "suppressed")))
			st = REPORT_CASE_SKIPPED;
	}
	parse_dec(attr(tc, "time"), 9, &ns);
	msg = element_message(bad, "message");
	name = attr_or(tc, "name", "");
	cls = attr_or(tc, "classname", suite);
	/* jest-junit repeats the test's title as its classname */
	if (!strcmp(cls, name) && *suite)
		cls = suite;
	add_case(c, st, name, cls, msg, ns);
	free(msg);
}

static void junit_walk(struct ctx *c, const xmlNode *n, const char *suite,
		       int depth)
{
	if (depth > MAX_DEPTH)
		return;
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (is(k, "testsuite") || is(k, "testsuites"))
			junit_walk(c, k, attr_or(k, "name", suite), depth + 1);
		else if (is(k, "testcase"))
			junit_case(c, k, suite);
	}
}

static int junit(struct ctx *c, const xmlNode *root)
{
	if (!is(root, "testsuites") && !is(root, "testsuite"))
		return -1;
	junit_walk(c, root, attr_or(root, "name", ""), 0);
	return 0;
}

/* ---- NUNITXML (NUnit 2) and NUNIT3XML ---- */

typedef void case_fn(struct ctx *c, const xmlNode *n, const char *suite);

/* Call fn for every element `name` below n, with the name of the nearest
 * enclosing <test-suite>. */
static void each_case(struct ctx *c, const xmlNode *n, const char *name,
		      const char *suite, case_fn *fn, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (is(k, name))
			fn(c, k, suite);
		else if (k->type == XML_ELEMENT_NODE)
			each_case(c, k, name,
				  is(k, "test-suite")
					  ? attr_or(k, "name", suite)
					  : suite,
				  fn, depth + 1);
	}
}

static char *nunit_message(const xmlNode *tc)
{
	const xmlNode *f = child(tc, "failure");

	if (!f)
		f = child(tc, "reason");
	return element_message(child(f, "message"), NULL);
}

/* "Ns.Class.Method(1,2)" -> suite "Ns.Class", name "Method(1,2)". */
static void split_full(const char *full, char **suite, const char **name)
{
	size_t paren = strcspn(full, "(");
	const char *dot = NULL;

	for (size_t i = 0; i < paren; i++)
		if (full[i] == '.')
			dot = full + i;
	if (!dot) {
		*suite = NULL;
		*name = full;
		return;
	}
	*suite = xstrndup(full, (size_t)(dot - full));
	*name = dot + 1;
}

static void nunit2_case(struct ctx *c, const xmlNode *tc, const char *suite)
{
	const char *res = attr(tc, "result"), *full = attr_or(tc, "name", "");
	const char *ex = attr(tc, "executed"), *ok = attr(tc, "success");
	enum report_case_status st = REPORT_CASE_UNKNOWN;
	const char *name;
	char *own = NULL, *msg;
	uint64_t ns = 0;

	if (res) {
		if (!strcmp(res, "Success"))
			st = REPORT_CASE_SUCCEEDED;
		else if (!strcmp(res, "Failure"))
			st = REPORT_CASE_FAILED;
		else if (!strcmp(res, "Error") || !strcmp(res, "NotRunnable"))
			st = REPORT_CASE_ERROR;
		else if (!strcmp(res, "Ignored") || !strcmp(res, "Skipped"))
			st = REPORT_CASE_SKIPPED;
	} else if (ex && !strcasecmp(ex, "false")) {
		st = REPORT_CASE_SKIPPED;
	} else if (ok) {
		st = !strcasecmp(ok, "true") ? REPORT_CASE_SUCCEEDED
					     : REPORT_CASE_FAILED;
	}
	split_full(full, &own, &name);
	parse_dec(attr(tc, "time"), 9, &ns);
	msg = nunit_message(tc);
	add_case(c, st, name, own ? own : suite, msg, ns);
	free(own);
	free(msg);
}

static void nunit3_case(struct ctx *c, const xmlNode *tc, const char *suite)
{
	const char *res = attr_or(tc, "result", "");
	const char *label = attr_or(tc, "label", "");
	enum report_case_status st = REPORT_CASE_UNKNOWN;
	char *msg;
	uint64_t ns = 0;

	if (!strcmp(res, "Passed") || !strcmp(res, "Warning"))
		st = REPORT_CASE_SUCCEEDED;
	else if (!strcmp(res, "Failed"))
		st = !strcmp(label, "Error") || !strcmp(label, "Invalid")
			     ? REPORT_CASE_ERROR
			     : REPORT_CASE_FAILED;
	else if (!strcmp(res, "Skipped"))
		st = REPORT_CASE_SKIPPED;
	parse_dec(attr(tc, "duration"), 9, &ns);
	msg = nunit_message(tc);
	add_case(c, st, attr_or(tc, "name", ""),
		 attr_or(tc, "classname", suite), msg, ns);
	free(msg);
}

static int nunit(struct ctx *c, const xmlNode *root)
{
	if (c->fmt == F_NUNIT) {
		if (!is(root, "test-results"))
			return -1;
		each_case(c, root, "test-case", "", nunit2_case, 0);
	} else {
		if (!is(root, "test-run") && !is(root, "test-suite"))
			return -1;
		each_case(c, root, "test-case", "", nunit3_case, 0);
	}
	return 0;
}

/* ---- TESTNGXML ---- */

static void testng_method(struct ctx *c, const xmlNode *m, const char *cls)
{
	const char *st = attr_or(m, "status", ""), *v;
	enum report_case_status s = REPORT_CASE_UNKNOWN;
	const xmlNode *ex;
	char *msg;
	uint64_t ns = 0;

	v = attr(m, "is-config");
	if (v && !strcmp(v, "true"))
		return;
	/* a result a retry analyzer replaced by a later attempt */
	v = attr(m, "retried");
	if (v && !strcmp(v, "true"))
		return;
	if (!strcmp(st, "PASS"))
		s = REPORT_CASE_SUCCEEDED;
	else if (!strcmp(st, "FAIL"))
		s = REPORT_CASE_FAILED;
	else if (!strcmp(st, "SKIP"))
		s = REPORT_CASE_SKIPPED;
	parse_dec(attr(m, "duration-ms"), 6, &ns);
	ex = child(m, "exception");
	msg = element_message(child(ex, "message"), NULL);
	if (!*msg && ex) {
		free(msg);
		msg = first_line(attr(ex, "class"));
	}
	add_case(c, s, attr_or(m, "name", ""), cls, msg, ns);
	free(msg);
}

static void testng_walk(struct ctx *c, const xmlNode *n, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (is(k, "class")) {
			const char *cls = attr_or(k, "name", "");

			for (const xmlNode *m = k->children; m; m = m->next)
				if (is(m, "test-method"))
					testng_method(c, m, cls);
		} else if (k->type == XML_ELEMENT_NODE) {
			testng_walk(c, k, depth + 1);
		}
	}
}

static int testng(struct ctx *c, const xmlNode *root)
{
	if (!is(root, "testng-results"))
		return -1;
	testng_walk(c, root, 0);
	return 0;
}

/* ---- VISUALSTUDIOTRX ---- */

struct trx_def {
	const char *id;
	const char *cls;
};

static int trx_def_cmp(const void *a, const void *b)
{
	return strcmp(((const struct trx_def *)a)->id,
		      ((const struct trx_def *)b)->id);
}

/* "hh:mm:ss.fffffff" in ns. */
static uint64_t trx_duration(const char *s)
{
	uint64_t h = 0, m = 0, sec = 0;
	const char *p;

	if (!s)
		return 0;
	p = strchr(s, ':');
	if (!p || !strchr(p + 1, ':'))
		return 0;
	parse_u64(s, &h);
	parse_u64(p + 1, &m);
	parse_dec(strchr(p + 1, ':') + 1, 9, &sec);
	if (h > 1000000 || m > 1000000)
		return 0;
	return add_sat((h * 3600 + m * 60) * 1000000000ULL, sec);
}

static void trx_result(struct ctx *c, const xmlNode *u,
		       const struct trx_def *defs, size_t nr_defs)
{
	const char *out = attr_or(u, "outcome", "");
	enum report_case_status st = REPORT_CASE_UNKNOWN;
	struct trx_def key = { attr_or(u, "testId", ""), NULL }, *d;
	const xmlNode *info;
	const char *cls = "";
	char *suite, *msg;

	if (!strcmp(out, "Passed") || !strcmp(out, "PassedButRunAborted") ||
	    !strcmp(out, "Warning") || !strcmp(out, "Completed"))
		st = REPORT_CASE_SUCCEEDED;
	else if (!strcmp(out, "Failed"))
		st = REPORT_CASE_FAILED;
	else if (!strcmp(out, "Error") || !strcmp(out, "Timeout") ||
		 !strcmp(out, "Aborted") || !strcmp(out, "NotRunnable"))
		st = REPORT_CASE_ERROR;
	else if (!strcmp(out, "NotExecuted"))
		st = REPORT_CASE_SKIPPED;
	d = nr_defs ? bsearch(&key, defs, nr_defs, sizeof(*defs), trx_def_cmp)
		    : NULL;
	if (d)
		cls = d->cls;
	/* "Ns.Class, Assembly, Version=..." */
	suite = xstrndup(cls, strcspn(cls, ","));
	info = child(child(u, "Output"), "ErrorInfo");
	msg = element_message(child(info, "Message"), NULL);
	add_case(c, st, attr_or(u, "testName", ""), suite, msg,
		 trx_duration(attr(u, "duration")));
	free(suite);
	free(msg);
}

static int trx(struct ctx *c, const xmlNode *root)
{
	const xmlNode *defs = child(root, "TestDefinitions");
	const xmlNode *res = child(root, "Results");
	struct trx_def *v = NULL;
	size_t nr = 0, alloc = 0;

	if (!is(root, "TestRun"))
		return -1;
	for (const xmlNode *k = defs ? defs->children : NULL; k; k = k->next) {
		const xmlNode *tm = child(k, "TestMethod");

		if (!is(k, "UnitTest") || !attr(k, "id"))
			continue;
		ALLOC_GROW(v, nr + 1, alloc);
		v[nr].id = attr(k, "id");
		v[nr].cls = tm ? attr_or(tm, "className", "") : "";
		nr++;
	}
	if (nr)
		qsort(v, nr, sizeof(*v), trx_def_cmp);
	/* data-driven rows under <InnerResults> count as their parent */
	for (const xmlNode *k = res ? res->children : NULL; k; k = k->next)
		if (is(k, "UnitTestResult"))
			trx_result(c, k, v, nr);
	free(v);
	return 0;
}

/* ---- COBERTURAXML ---- */

/* "50% (1/2)" -> 1, 2 */
static void condition_coverage(const char *s, uint64_t *cov, uint64_t *tot)
{
	const char *p = s ? strchr(s, '(') : NULL;
	const char *slash = p ? strchr(p, '/') : NULL;
	uint64_t a, b;

	if (slash && parse_u64(p + 1, &a) && parse_u64(slash + 1, &b) &&
	    a <= b) {
		*cov = add_sat(*cov, a);
		*tot = add_sat(*tot, b);
	}
}

/* Count class-level <line> elements (methods repeat them). */
static void cobertura_count(const xmlNode *n, uint64_t v[4], int depth)
{
	if (depth > MAX_DEPTH)
		return;
	for (const xmlNode *k = n->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE || is(k, "methods"))
			continue;
		if (is(k, "line") && is(n, "lines")) {
			uint64_t hits = 0;
			const char *br = attr(k, "branch");

			parse_u64(attr(k, "hits"), &hits);
			v[0] += hits > 0;
			v[1]++;
			if (br && !strcmp(br, "true"))
				condition_coverage(
					attr(k, "condition-coverage"), &v[2],
					&v[3]);
		} else {
			cobertura_count(k, v, depth + 1);
		}
	}
}

static int cobertura(struct ctx *c, const xmlNode *root)
{
	uint64_t lc, lv, bc, bv, counted[4] = { 0, 0, 0, 0 };
	bool have_lines, have_branches;
	double rate;

	if (!is(root, "coverage"))
		return -1;
	have_lines = parse_u64(attr(root, "lines-covered"), &lc) &&
		     parse_u64(attr(root, "lines-valid"), &lv);
	have_branches = parse_u64(attr(root, "branches-covered"), &bc) &&
			parse_u64(attr(root, "branches-valid"), &bv);
	if (!have_lines || !have_branches)
		cobertura_count(root, counted, 0);
	if (have_lines)
		add_lines(c, lc, lv);
	else
		add_lines(c, counted[0], counted[1]);
	if (have_branches)
		add_branches(c, bc, bv);
	else
		add_branches(c, counted[2], counted[3]);
	if (parse_frac(attr(root, "line-rate"), &rate)) {
		c->line_rate = rate;
		c->have_line_rate = true;
	}
	if (parse_frac(attr(root, "branch-rate"), &rate)) {
		c->branch_rate = rate;
		c->have_branch_rate = true;
	}
	return 0;
}

/* ---- JACOCOXML ---- */

/* The LINE and BRANCH counters directly under n, else those of its
 * groups and packages. Returns whether any was found. */
static bool jacoco_sum(struct ctx *c, const xmlNode *n, int depth)
{
	bool found = false;

	if (depth > MAX_DEPTH)
		return false;
	for (const xmlNode *k = n->children; k; k = k->next) {
		const char *type;
		uint64_t miss, cov;

		if (!is(k, "counter"))
			continue;
		type = attr_or(k, "type", "");
		if (!parse_u64(attr(k, "missed"), &miss) ||
		    !parse_u64(attr(k, "covered"), &cov))
			continue;
		if (!strcmp(type, "LINE")) {
			add_lines(c, cov, add_sat(cov, miss));
			found = true;
		} else if (!strcmp(type, "BRANCH")) {
			add_branches(c, cov, add_sat(cov, miss));
			found = true;
		}
	}
	if (found)
		return true;
	for (const xmlNode *k = n->children; k; k = k->next)
		if (is(k, "group") || is(k, "package"))
			found |= jacoco_sum(c, k, depth + 1);
	return found;
}

static int jacoco(struct ctx *c, const xmlNode *root)
{
	if (!is(root, "report"))
		return -1;
	if (!jacoco_sum(c, root, 0))
		warn(c, 0, "no LINE or BRANCH counters");
	return 0;
}

/* ---- CLOVERXML ---- */

static int clover(struct ctx *c, const xmlNode *root)
{
	const xmlNode *m = child(child(root, "project"), "metrics");
	uint64_t st = 0, cst = 0, cond = 0, ccond = 0;

	if (!is(root, "coverage"))
		return -1;
	if (!m) {
		warn(c, 0, "no <project><metrics> element");
		return 0;
	}
	parse_u64(attr(m, "statements"), &st);
	parse_u64(attr(m, "coveredstatements"), &cst);
	parse_u64(attr(m, "conditionals"), &cond);
	parse_u64(attr(m, "coveredconditionals"), &ccond);
	add_lines(c, cst, st);
	add_branches(c, ccond, cond);
	return 0;
}

/* ---- XML files ---- */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static xmlParserInputPtr no_external(const char *url, const char *id,
				     xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

static void xml_setup(void)
{
	xmlInitParser();
	xmlSetExternalEntityLoader(no_external);
}

/* Does the XML declaration name an encoding? */
static bool declares_encoding(const char *data, size_t len)
{
	const char *end;

	if (len < 5 || memcmp(data, "<?xml", 5))
		return false;
	end = memchr(data, '>', len);
	if (!end)
		return false;
	for (const char *p = data; p + 8 <= end; p++)
		if (!memcmp(p, "encoding", 8))
			return true;
	return false;
}

static void xml_warn(struct ctx *c, xmlParserCtxtPtr px)
{
	const xmlError *err = xmlCtxtGetLastError(px);
	char *msg;

	if (!err)
		err = xmlGetLastError();
	if (!err || !err->message) {
		warn(c, 0, "malformed XML");
		return;
	}
	msg = first_line(err->message);
	warn(c, err->line, "malformed XML: %s", msg);
	free(msg);
}

static int process_xml(struct ctx *c, const char *path, const char *data,
		       size_t len)
{
	/* no NOENT, DTDLOAD, DTDATTR or HUGE: nothing is fetched or
	 * substituted, and libxml2's size and depth limits hold */
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR |
			 XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
	xmlParserCtxtPtr px;
	xmlDocPtr doc;
	xmlNode *root;
	int ret = -1;

	pthread_once(&xml_once, xml_setup);
	px = xmlNewParserCtxt();
	if (!px)
		BUG("out of memory in libxml2");
	doc = xmlCtxtReadMemory(px, data, (int)len, path, NULL, opts);
	if (!doc) {
		const xmlError *err = xmlCtxtGetLastError(px);

		if (err && err->domain == XML_FROM_PARSER &&
		    (err->code == XML_ERR_INVALID_CHAR ||
		     err->code == XML_ERR_INVALID_ENCODING) &&
		    !declares_encoding(data, len)) {
			xmlCtxtReset(px);
			doc = xmlCtxtReadMemory(px, data, (int)len, path,
						"ISO-8859-1", opts);
			if (doc)
				warn(c, 0,
				     "not valid UTF-8, read as "
				     "ISO-8859-1");
		}
	}
	if (!doc) {
		xml_warn(c, px);
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root) {
		warn(c, 0, "no root element");
		goto out;
	}
	switch (c->fmt) {
	case F_JUNIT:
		ret = junit(c, root);
		break;
	case F_NUNIT:
	case F_NUNIT3:
		ret = nunit(c, root);
		break;
	case F_TESTNG:
		ret = testng(c, root);
		break;
	case F_TRX:
		ret = trx(c, root);
		break;
	case F_COBERTURA:
		ret = cobertura(c, root);
		break;
	case F_JACOCO:
		ret = jacoco(c, root);
		break;
	case F_CLOVER:
		ret = clover(c, root);
		break;
	default:
		BUG("format %d is not XML", (int)c->fmt);
	}
	if (ret < 0)
		warn(c, root->line, "not a %s report (root element <%s>)",
		     c->r->file_format, (const char *)root->name);
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(px);
	return ret;
}

/* ---- JSON files ---- */

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static int status_rank(const char *s)
{
	static const char *const order[] = { "passed",	  "skipped",
					     "pending",	  "undefined",
					     "ambiguous", "failed" };

	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (!strcmp(s, order[i]))
			return (int)i;
	return 2; /* unknown words count as pending */
}

/* The worst step or hook of element el, its error and duration. */
static void cucumber_steps(json_object *el, int *worst, const char **err,
			   uint64_t *ns)
{
	static const char *const keys[] = { "before", "background_steps",
					    "steps", "after" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_object *a = jget(el, keys[i]);
		size_t n;

		if (!json_object_is_type(a, json_type_array))
			continue;
		n = json_object_array_length(a);
		for (size_t j = 0; j < n; j++) {
			json_object *res =
				jget(json_object_array_get_idx(a, j), "result");
			json_object *st = jget(res, "status");
			json_object *d = jget(res, "duration");
			int rank;

			if (!json_object_is_type(st, json_type_string))
				continue;
			rank = status_rank(json_object_get_string(st));
			if (rank > *worst) {
				*worst = rank;
				if (rank == 5 || rank == 4)
					*err = json_object_get_string(
						jget(res, "error_message"));
			}
			if (json_object_is_type(d, json_type_int) &&
			    json_object_get_int64(d) > 0)
				*ns = add_sat(
					*ns,
					(uint64_t)json_object_get_int64(d));
		}
	}
}

static int cucumber(struct ctx *c, json_object *doc)
{
	size_t nf;

	if (!json_object_is_type(doc, json_type_array))
		return -1;
	nf = json_object_array_length(doc);
	for (size_t i = 0; i < nf; i++) {
		json_object *feat = json_object_array_get_idx(doc, i);
		json_object *els = jget(feat, "elements");
		const char *fname = json_object_get_string(jget(feat, "name"));
		int bg_worst = 0;
		const char *bg_err = NULL;
		size_t ne;

		if (!json_object_is_type(els, json_type_array))
			continue;
		ne = json_object_array_length(els);
		for (size_t j = 0; j < ne; j++) {
			json_object *el = json_object_array_get_idx(els, j);
			const char *type =
				json_object_get_string(jget(el, "type"));
			int worst = bg_worst;
			const char *err = bg_err;
			uint64_t ns = 0;
			enum report_case_status st;
			char *msg;

			/* a background's steps belong to the next scenario */
			if (type && !strcmp(type, "background")) {
				bg_worst = 0;
				bg_err = NULL;
				cucumber_steps(el, &bg_worst, &bg_err, &ns);
				c->r->duration_ns =
					add_sat(c->r->duration_ns, ns);
				continue;
			}
			cucumber_steps(el, &worst, &err, &ns);
			bg_worst = 0;
			bg_err = NULL;
			switch (worst) {
			case 0:
				st = REPORT_CASE_SUCCEEDED;
				break;
			case 1:
				st = REPORT_CASE_SKIPPED;
				break;
			case 4:
				st = REPORT_CASE_ERROR;
				break;
			case 5:
				st = REPORT_CASE_FAILED;
				break;
			default:
				st = REPORT_CASE_UNKNOWN;
			}
			msg = first_line(err);
			add_case(c, st,
				 json_object_get_string(jget(el, "name")),
				 fname ? fname : "", msg, ns);
			free(msg);
		}
	}
	return 0;
}

/* Count a simplecov "lines" array: null is not code, 0 missed. */
static void simplecov_lines(struct ctx *c, json_object *lines)
{
	uint64_t cov = 0, tot = 0;
	size_t n;

	if (json_object_is_type(jget(lines, "lines"), json_type_array))
		lines = jget(lines, "lines");
	if (!json_object_is_type(lines, json_type_array))
		return;
	n = json_object_array_length(lines);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(lines, i);

		if (!json_object_is_type(v, json_type_int))
			continue;
		tot++;
		cov += json_object_get_int64(v) > 0;
	}
	add_lines(c, cov, tot);
}

static bool simplecov_coverage(struct ctx *c, json_object *cov)
{
	if (!json_object_is_type(cov, json_type_object))
		return false;
	json_object_object_foreach(cov, file, lines)
	{
		(void)file;
		simplecov_lines(c, lines);
	}
	return true;
}

static int simplecov(struct ctx *c, json_object *doc)
{
	json_object *m = jget(doc, "metrics");
	bool found = false;

	if (!json_object_is_type(doc, json_type_object))
		return -1;
	/* simplecov-json: totals */
	if (json_object_is_type(jget(m, "covered_lines"), json_type_int) &&
	    json_object_is_type(jget(m, "total_lines"), json_type_int)) {
		int64_t cl = json_object_get_int64(jget(m, "covered_lines"));
		int64_t tl = json_object_get_int64(jget(m, "total_lines"));

		add_lines(c, cl > 0 ? (uint64_t)cl : 0,
			  tl > 0 ? (uint64_t)tl : 0);
		return 0;
	}
	/* the built-in JSON formatter: {"coverage": {file: {lines}}} */
	if (simplecov_coverage(c, jget(doc, "coverage")))
		return 0;
	/* .resultset.json: {command: {"coverage": ...}} */
	json_object_object_foreach(doc, cmd, v)
	{
		(void)cmd;
		found |= simplecov_coverage(c, jget(v, "coverage"));
	}
	return found ? 0 : -1;
}

static int process_json(struct ctx *c, const char *data, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	json_object *doc;
	enum json_tokener_error jerr;
	int ret = -1;

	if (!tok)
		BUG("out of memory in json-c");
	doc = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!doc || jerr != json_tokener_success) {
		size_t off = tok->char_offset;
		int line = 1;

		for (size_t i = 0; i < off && i < len; i++)
			line += data[i] == '\n';
		warn(c, line, "malformed JSON: %s",
		     json_tokener_error_desc(jerr == json_tokener_success
						     ? json_tokener_continue
						     : jerr));
		goto out;
	}
	ret = c->fmt == F_CUCUMBER ? cucumber(c, doc) : simplecov(c, doc);
	if (ret < 0)
		warn(c, 0, "not a %s report", c->r->file_format);
out:
	json_object_put(doc);
	json_tokener_free(tok);
	return ret;
}

/* ---- files ---- */

/* Read a regular file of at most REPORTS_MAX_FILE bytes, or warn. */
static int read_report(struct ctx *c, const char *path, char **data,
		       size_t *len)
{
	struct stat sb;
	struct buf b = BUF_INIT;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		warn(c, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0) {
		warn(c, 0, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		warn(c, 0, "not a regular file, skipped");
		goto out;
	}
	if ((uint64_t)sb.st_size > REPORTS_MAX_FILE) {
		warn(c, 0, "larger than %lu MiB, skipped",
		     REPORTS_MAX_FILE >> 20);
		goto out;
	}
	buf_grow(&b, (size_t)sb.st_size + 1);
	for (;;) {
		ssize_t n;

		if (b.len > REPORTS_MAX_FILE) {
			warn(c, 0, "larger than %lu MiB, skipped",
			     REPORTS_MAX_FILE >> 20);
			goto out;
		}
		buf_grow(&b, 65536);
		n = read(fd, b.ptr + b.len, b.alloc - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn(c, 0, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (!n)
			break;
		b.len += (size_t)n;
		b.ptr[b.len] = '\0';
	}
	if (b.len == strspn(buf_cstr(&b), " \t\r\n")) {
		warn(c, 0, "empty file, skipped");
		goto out;
	}
	*len = b.len;
	*data = buf_detach(&b);
	ret = 0;
out:
	buf_release(&b);
	close(fd);
	return ret;
}

/* path relative to the real source directory when inside it. */
static const char *shown_name(const char *path, const char *src_real)
{
	size_t n = src_real ? strlen(src_real) : 0;

	if (n && !strncmp(path, src_real, n) && path[n] == '/')
		return path + n + 1;
	return path;
}

static void decide_status(struct ctx *c, bool known)
{
	struct report_result *r = c->r;

	if (!known || !r->files_parsed) {
		r->status = REPORT_INCOMPLETE;
	} else if (r->type == REPORT_TEST) {
		r->status = r->counts[REPORT_CASE_FAILED] ||
					    r->counts[REPORT_CASE_ERROR]
				    ? REPORT_FAILED
				    : REPORT_SUCCEEDED;
	} else {
		r->status = REPORT_SUCCEEDED;
	}
	if (r->type != REPORT_CODE_COVERAGE)
		return;
	if (r->lines_covered + r->lines_missed)
		r->line_pct = 100.0 * (double)r->lines_covered /
			      (double)(r->lines_covered + r->lines_missed);
	else if (c->have_line_rate)
		r->line_pct = 100.0 * c->line_rate;
	if (r->branches_covered + r->branches_missed)
		r->branch_pct =
			100.0 * (double)r->branches_covered /
			(double)(r->branches_covered + r->branches_missed);
	else if (c->have_branch_rate)
		r->branch_pct = 100.0 * c->branch_rate;
	if (r->line_pct > 100.0)
		r->line_pct = 100.0;
	if (r->branch_pct > 100.0)
		r->branch_pct = 100.0;
}

int reports_process(const struct bs_report_group *g, const char *srcdir,
		    struct report_result *r, struct sw_err *e)
{
	struct ctx c = { .r = r, .fmt = F_UNKNOWN };
	struct bs_artifact a = { 0 };
	struct artifact_list l = ARTIFACT_LIST_INIT;
	struct sw_err ce = SW_ERR_INIT;
	const char *fmt = g->file_format ? g->file_format : "JUNITXML";
	char *src_real = NULL;
	bool json = false;
	int ret = -1;

	r->name = xstrdup(g->name ? g->name : "");
	r->file_format = xstrdup(fmt);
	r->type = REPORT_TEST;
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		if (!strcmp(fmt, formats[i].name)) {
			c.fmt = formats[i].f;
			r->type = formats[i].type;
			json = formats[i].json;
		}
	}
	if (c.fmt == F_UNKNOWN) {
		warn(&c, 0, "unknown report file format '%s'", fmt);
		ret = 0;
		goto out;
	}

	a.files = g->files;
	a.base_directory = g->base_directory;
	a.discard_paths = g->discard_paths;
	if (artifacts_collect(&a, srcdir, &l, &ce) < 0) {
		if (ce.code == ERR_SYSTEM) {
			err_set(e, ce.code, "report group '%s': %s", r->name,
				ce.msg);
			goto out;
		}
		/* a refused path: keep what was found before it */
		warn(&c, 0, "%s", ce.msg);
	}
	src_real = realpath(srcdir, NULL);

	for (size_t i = 0; i < l.nr; i++) {
		const char *path = l.v[i].path;
		char *data = NULL;
		size_t len = 0;
		int rc;

		c.shown = strvec_push(&r->files, shown_name(path, src_real));
		if (read_report(&c, path, &data, &len) < 0)
			continue;
		if (json)
			rc = process_json(&c, data, len);
		else
			rc = process_xml(&c, path, data, len);
		if (!rc)
			r->files_parsed++;
		free(data);
	}
	c.shown = NULL;
	if (!l.nr)
		warn(&c, 0, "no report files found");
	ret = 0;
out:
	decide_status(&c, c.fmt != F_UNKNOWN);
	artifact_list_release(&l);
	free(src_real);
	return ret;
}

/* ---- output ---- */

static void fmt_secs(char out[32], uint64_t ns)
{
	snprintf(out, 32, "%llu.%02llus", (unsigned long long)(ns / 1000000000),
		 (unsigned long long)(ns % 1000000000 / 10000000));
}

void reports_log(const struct report_result *r, struct log *lg)
{
	struct buf b = BUF_INIT;
	char secs[32];
	uint64_t failed_total;

	for (size_t i = 0; i < r->warnings.nr; i++)
		log_agent(lg, "Report group %s: %s", r->name, r->warnings.v[i]);
	if (r->status == REPORT_INCOMPLETE) {
		log_agent(lg, "Report group %s: INCOMPLETE, %s", r->name,
			  r->files.nr ? "no report file could be read"
				      : "no report files found");
		return;
	}
	if (r->type == REPORT_CODE_COVERAGE) {
		buf_addf(&b, "Coverage %s: %.1f%% lines (%llu/%llu)", r->name,
			 r->line_pct, (unsigned long long)r->lines_covered,
			 (unsigned long long)(r->lines_covered +
					      r->lines_missed));
		if (r->branches_covered + r->branches_missed)
			buf_addf(&b, ", %.1f%% branches (%llu/%llu)",
				 r->branch_pct,
				 (unsigned long long)r->branches_covered,
				 (unsigned long long)(r->branches_covered +
						      r->branches_missed));
		log_agent(lg, "%s", buf_cstr(&b));
		buf_release(&b);
		return;
	}
	fmt_secs(secs, r->duration_ns);
	buf_addf(&b,
		 "Report group %s: %llu tests, %llu passed, %llu failed, "
		 "%llu skipped",
		 r->name, (unsigned long long)r->total,
		 (unsigned long long)r->counts[REPORT_CASE_SUCCEEDED],
		 (unsigned long long)r->counts[REPORT_CASE_FAILED],
		 (unsigned long long)r->counts[REPORT_CASE_SKIPPED]);
	if (r->counts[REPORT_CASE_ERROR])
		buf_addf(&b, ", %llu errors",
			 (unsigned long long)r->counts[REPORT_CASE_ERROR]);
	if (r->counts[REPORT_CASE_UNKNOWN])
		buf_addf(&b, ", %llu unknown",
			 (unsigned long long)r->counts[REPORT_CASE_UNKNOWN]);
	buf_addf(&b, " (%s)", secs);
	log_agent(lg, "%s", buf_cstr(&b));
	buf_release(&b);
	for (size_t i = 0; i < r->nr_failures; i++) {
		const struct report_failure *f = &r->failures[i];

		log_agent(lg, "  %s %s%s%s%s%s",
			  report_case_status_name(f->status), f->suite,
			  *f->suite ? "." : "", f->name,
			  *f->message ? ": " : "", f->message);
	}
	failed_total =
		r->counts[REPORT_CASE_FAILED] + r->counts[REPORT_CASE_ERROR];
	if (failed_total > r->nr_failures)
		log_agent(lg, "  ... and %llu more",
			  (unsigned long long)(failed_total - r->nr_failures));
}

static json_object *jstr(const struct mask *m, const char *s)
{
	char *masked;
	json_object *o;

	if (!m || !m->nr)
		return json_object_new_string(s ? s : "");
	masked = mask_string(m, s ? s : "");
	o = json_object_new_string(masked);
	free(masked);
	return o;
}

static json_object *jint(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static json_object *jpct(double v)
{
	char txt[32];

	snprintf(txt, sizeof(txt), "%.2f", v);
	return json_object_new_double_s(v, txt);
}

static json_object *jstrv(const struct strvec *v, const struct mask *m)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; i < v->nr; i++)
		json_object_array_add(a, jstr(m, v->v[i]));
	return a;
}

json_object *reports_json(const struct report_result *r, const struct mask *m)
{
	json_object *o = json_object_new_object(), *s, *a;
	const char *group = r->name ? r->name : "";
	const char *arn = strstr(group, ":report-group/");

	if (!strncmp(group, "arn:", 4) && arn)
		group = arn + strlen(":report-group/");
	json_object_object_add(o, "name", jstr(m, r->name));
	json_object_object_add(o, "reportGroupName", jstr(m, group));
	json_object_object_add(
		o, "type", json_object_new_string(report_type_name(r->type)));
	json_object_object_add(o, "fileFormat", jstr(m, r->file_format));
	json_object_object_add(
		o, "status",
		json_object_new_string(report_status_name(r->status)));
	if (r->type == REPORT_TEST) {
		json_object *counts = json_object_new_object();

		s = json_object_new_object();
		json_object_object_add(s, "total", jint(r->total));
		for (int i = 0; i < REPORT_CASE_NR; i++)
			json_object_object_add(counts, case_names[i],
					       jint(r->counts[i]));
		json_object_object_add(s, "statusCounts", counts);
		json_object_object_add(s, "durationInNanoSeconds",
				       jint(r->duration_ns));
		json_object_object_add(o, "testSummary", s);
	} else {
		s = json_object_new_object();
		json_object_object_add(s, "lineCoveragePercentage",
				       jpct(r->line_pct));
		json_object_object_add(s, "linesCovered",
				       jint(r->lines_covered));
		json_object_object_add(s, "linesMissed", jint(r->lines_missed));
		json_object_object_add(s, "branchCoveragePercentage",
				       jpct(r->branch_pct));
		json_object_object_add(s, "branchesCovered",
				       jint(r->branches_covered));
		json_object_object_add(s, "branchesMissed",
				       jint(r->branches_missed));
		json_object_object_add(o, "codeCoverageSummary", s);
	}
	a = json_object_new_array();
	for (size_t i = 0; i < r->nr_failures; i++) {
		const struct report_failure *f = &r->failures[i];
		json_object *fo = json_object_new_object();

		json_object_object_add(fo, "name", jstr(m, f->name));
		json_object_object_add(fo, "suite", jstr(m, f->suite));
		json_object_object_add(fo, "message", jstr(m, f->message));
		json_object_object_add(
			fo, "status",
			json_object_new_string(
				report_case_status_name(f->status)));
		json_object_array_add(a, fo);
	}
	json_object_object_add(o, "failures", a);
	json_object_object_add(o, "files", jstrv(&r->files, m));
	json_object_object_add(o, "warnings", jstrv(&r->warnings, m));
	return o;
}
