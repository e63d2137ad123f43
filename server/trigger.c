/*
 * trigger: pipeline triggers applied to a change (trigger.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "trigger.h"
#include "xalloc.h"
#include "banned.h"

#define GLOB_BUDGET 200000

struct gm {
	long budget;
};

static bool gmatch(struct gm *g, const char *p, const char *s);

/* p points at '['; *end is set past the ']'. -1: no closing ']'. */
static int class_match(const char *p, char c, const char **end)
{
	bool neg = false, hit = false;
	const char *q = p + 1;

	if (*q == '!' || *q == '^')
		neg = true, q++;
	if (*q == ']') {
		hit = c == ']';
		q++;
	}
	for (; *q && *q != ']'; q++) {
		char lo = *q, hi;

		if (lo == '\\' && q[1])
			lo = *++q;
		hi = lo;
		if (q[1] == '-' && q[2] && q[2] != ']') {
			hi = q[2];
			if (hi == '\\' && q[3])
				hi = q[3], q++;
			q += 2;
		}
		if (c >= lo && c <= hi)
			hit = true;
	}
	if (*q != ']')
		return -1;
	*end = q + 1;
	return hit != neg;
}

/* p points at '{': try each alternative followed by what follows '}'. */
static int brace_match(struct gm *g, const char *p, const char *s)
{
	const char *q, *close = NULL, *alt;
	int depth = 0;
	bool any = false;

	for (q = p; *q; q++) {
		if (*q == '\\' && q[1])
			q++;
		else if (*q == '{')
			depth++;
		else if (*q == '}' && !--depth) {
			close = q;
			break;
		}
	}
	if (!close)
		return -1;
	alt = p + 1;
	depth = 0;
	for (q = p + 1; q <= close && !any; q++) {
		if (*q == '\\' && q + 1 < close) {
			q++;
			continue;
		}
		if (*q == '{')
			depth++;
		else if (*q == '}' && depth)
			depth--;
		else if ((*q == ',' && !depth) || q == close) {
			size_t n = (size_t)(q - alt), rest = strlen(close + 1);
			char *t = xmalloc(n + rest + 1);

			memcpy(t, alt, n);
			memcpy(t + n, close + 1, rest + 1);
			any = gmatch(g, t, s);
			free(t);
			alt = q + 1;
		}
	}
	return any;
}

static bool gmatch(struct gm *g, const char *p, const char *s)
{
	for (;;) {
		if (--g->budget < 0)
			return false;
		switch (*p) {
		case '\0':
			return !*s;
		case '*':
			if (p[1] == '*') {
				while (*p == '*')
					p++;
				if (*p == '/' && gmatch(g, p + 1, s))
					return true;
				for (;; s++) {
					if (gmatch(g, p, s))
						return true;
					if (!*s || g->budget < 0)
						return false;
				}
			}
			p++;
			for (;; s++) {
				if (gmatch(g, p, s))
					return true;
				if (!*s || *s == '/' || g->budget < 0)
					return false;
			}
		case '?':
			if (!*s || *s == '/')
				return false;
			p++, s++;
			break;
		case '[': {
			const char *end;
			int r;

			if (!*s || *s == '/')
				return false;
			r = class_match(p, *s, &end);
			if (r < 0)
				goto literal;
			if (!r)
				return false;
			p = end, s++;
			break;
		}
		case '{': {
			int r = brace_match(g, p, s);

			if (r >= 0)
				return r;
			goto literal;
		}
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
		literal:
			if (*p != *s)
				return false;
			p++, s++;
		}
	}
}

bool trigger_glob(const char *pattern, const char *s)
{
	struct gm g = { GLOB_BUDGET };

	return gmatch(&g, pattern, s);
}

/* Excludes beat includes; no includes: all that is not excluded. */
static bool takes(const struct pl_patterns *p, const char *name)
{
	for (size_t i = 0; i < p->excludes.nr; i++)
		if (trigger_glob(p->excludes.v[i], name))
			return false;
	if (!p->includes.nr)
		return true;
	for (size_t i = 0; i < p->includes.nr; i++)
		if (trigger_glob(p->includes.v[i], name))
			return true;
	return false;
}

static bool files_match(const struct pl_patterns *p,
			const struct trig_event *ev, bool *assumed)
{
	if (!p->set)
		return true;
	if (!ev->files_known || !ev->files) {
		*assumed = true;
		return true;
	}
	for (size_t i = 0; i < ev->files->nr; i++)
		if (takes(p, ev->files->v[i]))
			return true;
	return false;
}

static bool push_match(const struct pl_filter *f, const struct trig_event *ev,
		       bool *assumed)
{
	if (ev->kind == TRIG_TAG)
		return f->tags.set && takes(&f->tags, ev->name);
	if (f->tags.set && !f->branches.set)
		return false;
	if (f->branches.set && !takes(&f->branches, ev->name))
		return false;
	return files_match(&f->file_paths, ev, assumed);
}

static bool pr_match(const struct pl_filter *f, const struct trig_event *ev,
		     bool *assumed)
{
	if (f->events && !(f->events & ev->pr_event))
		return false;
	if (f->branches.set && !takes(&f->branches, ev->base ? ev->base : ""))
		return false;
	return files_match(&f->file_paths, ev, assumed);
}

static const char *kind_name(const struct trig_event *ev)
{
	return ev->kind == TRIG_TAG ? "tag" : "branch";
}

static const char *pr_event_name(unsigned ev)
{
	return ev == PL_EVENT_OPEN	? "OPEN"
	       : ev == PL_EVENT_UPDATED ? "UPDATED"
	       : ev == PL_EVENT_CLOSED	? "CLOSED"
					: "other";
}

bool trigger_matches(const struct pipeline *pl, const struct pl_action *src,
		     const struct trig_event *ev, struct buf *why)
{
	const struct pl_trigger *t = NULL;
	bool assumed = false;

	for (size_t i = 0; i < pl->nr_triggers; i++)
		if (pl->triggers[i].source_action &&
		    !strcmp(pl->triggers[i].source_action, src->name)) {
			t = &pl->triggers[i];
			break;
		}
	if (!t || (!t->nr_push && !t->nr_pull_request)) {
		const char *branch = pl_action_config(src, "BranchName");

		if (!branch)
			branch = pl_action_config(src, "Branch");
		if (ev->kind == TRIG_BRANCH && branch &&
		    !strcmp(branch, ev->name))
			return true;
		if (ev->kind == TRIG_PULL_REQUEST)
			buf_addf(why,
				 "source action '%s' has no trigger: only "
				 "pushes to its BranchName start it, not pull "
				 "requests",
				 src->name);
		else
			buf_addf(why,
				 "%s '%s' is not the BranchName '%s' of source "
				 "action '%s' (and it has no trigger)",
				 kind_name(ev), ev->name, branch ? branch : "",
				 src->name);
		return false;
	}
	if (ev->kind == TRIG_PULL_REQUEST) {
		for (size_t i = 0; i < t->nr_pull_request; i++)
			if (pr_match(&t->pull_request[i], ev, &assumed))
				goto yes;
		buf_addf(why,
			 "pull request %s into branch '%s' matches no "
			 "pullRequest filter of the trigger of '%s'",
			 pr_event_name(ev->pr_event), ev->base ? ev->base : "",
			 src->name);
		return false;
	}
	for (size_t i = 0; i < t->nr_push; i++)
		if (push_match(&t->push[i], ev, &assumed))
			goto yes;
	buf_addf(why,
		 "push to %s '%s' matches no push filter of the trigger of "
		 "'%s'",
		 kind_name(ev), ev->name, src->name);
	if (ev->files_known && ev->files && ev->kind != TRIG_TAG)
		buf_addf(why, " (%zu changed files)", ev->files->nr);
	return false;
yes:
	if (assumed)
		buf_addf(why,
			 "the changed files are not known: file path filters "
			 "taken as matched");
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void trigger_files_unique(struct strvec *files)
{
	size_t k = 1;

	if (files->nr < 2)
		return;
	qsort(files->v, files->nr, sizeof(*files->v), cmp_str);
	for (size_t i = 1; i < files->nr; i++) {
		if (!strcmp(files->v[i], files->v[k - 1]))
			free(files->v[i]);
		else
			files->v[k++] = files->v[i];
	}
	files->nr = k;
	files->v[k] = NULL;
}
