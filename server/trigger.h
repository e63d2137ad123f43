/*
 * trigger: does a change start a pipeline? The V2 triggers of a
 * pipeline file (pl->triggers) applied to a push or a pull request, as
 * webhooks (webhook.h) and polling (poll.h) see them.
 *
 *   struct trig_event ev = TRIG_EVENT_INIT;
 *   ev.kind = TRIG_BRANCH; ev.name = "main";
 *   ev.files = &changed; ev.files_known = true;
 *   struct buf why = BUF_INIT;
 *   if (trigger_matches(pl, src, &ev, &why)) start it;
 *   else log(why.ptr);                      -- "branch 'dev' is ..."
 *
 * src is the source action the change is for. The triggers that name it
 * (gitConfiguration.sourceActionName) decide; when none does, or its
 * trigger has no push and no pullRequest filter, a push to the action's
 * BranchName starts it and nothing else does (CodePipeline's change
 * detection). Filters are OR'ed; within one, every part given must
 * match:
 *   - push: a tag push needs 'tags', a branch push 'branches' (a filter
 *     with 'tags' only never matches a branch); 'filePaths' needs one
 *     changed file that an include takes and no exclude does.
 *   - pullRequest: 'events' (OPEN, UPDATED, CLOSED; none given: all)
 *     holds the request's event, 'branches' its destination branch,
 *     'filePaths' as for a push.
 *   - excludes beat includes; no includes means everything not excluded.
 * When the changed files are not known (a pull request's payload does not
 * list them; a push that lists no commits or too many), a filePaths part
 * matches, and why says so.
 *
 * Patterns are CodePipeline's globs (trigger_glob).
 */
#ifndef SW_SERVER_TRIGGER_H
#define SW_SERVER_TRIGGER_H

#include <stdbool.h>

#include "buf.h"
#include "strvec.h"

struct pipeline;
struct pl_action;

enum trig_kind { TRIG_BRANCH, TRIG_TAG, TRIG_PULL_REQUEST };

struct trig_event {
	enum trig_kind kind;
	const char *name; /* branch or tag pushed; a pull request's head */
	const char *base; /* a pull request's destination branch */
	unsigned pr_event; /* PL_EVENT_OPEN, _UPDATED or _CLOSED */
	const struct strvec *files; /* changed paths, or NULL */
	bool files_known;
};

#define TRIG_EVENT_INIT                                                        \
	{                                                                      \
		TRIG_BRANCH, NULL, NULL, 0, NULL, false                        \
	}

/* Does ev start pl through its source action src? When not, why gets
 * the reason (no final period); when it does, a note if the file paths
 * were assumed. */
bool trigger_matches(const struct pipeline *pl, const struct pl_action *src,
		     const struct trig_event *ev, struct buf *why);

/*
 * CodePipeline's glob: `*` is any run of characters but '/', `**` any run
 * including '/' (and `** /` also nothing), `?` one character but '/',
 * `[...]` a set (`[!...]` or `[^...]` its complement, ranges `a-z`),
 * `{a,b}` alternatives (nested too), `\` takes the next character as
 * it is. The whole of s must match. Matching gives up (false) after a
 * fixed amount of work, so that no pattern and name cost more than that.
 */
bool trigger_glob(const char *pattern, const char *s);

/* Sort a list of changed files and drop repeats (n log n, where a
 * search per file would be quadratic in a push of many files). */
void trigger_files_unique(struct strvec *files);

#endif
