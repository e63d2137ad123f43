/*
 * poll: ls-remote, compare, fetch once, match (poll.h).
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "mirror.h"
#include "pipeline.h"
#include "poll.h"
#include "source.h"
#include "store.h"
#include "strvec.h"
#include "trigger.h"
#include "xalloc.h"
#include "banned.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A git repository: a URL, or a path holding .git or a bare one. */
static bool is_repo(const struct pl_binding *b)
{
	char *p;
	bool r;

	if (b->url)
		return true;
	if (!fs_is_dir(b->target))
		return false;
	p = fs_join(b->target, ".git");
	r = fs_exists(p);
	free(p);
	if (!r) {
		p = fs_join(b->target, "HEAD");
		r = fs_exists(p);
		free(p);
		p = fs_join(b->target, "objects");
		r = r && fs_is_dir(p);
		free(p);
	}
	return r;
}

/* Paths that differ between the trees of commits from and to. */
static bool changed_files(const char *gitdir, const char *from, const char *to,
			  struct strvec *files)
{
	git_repository *repo = NULL;
	git_commit *a = NULL, *b = NULL;
	git_tree *ta = NULL, *tb = NULL;
	git_diff *diff = NULL;
	git_oid oa, ob;
	bool ok = false;

	if (git_repository_open_bare(&repo, gitdir) < 0 ||
	    git_oid_fromstr(&oa, from) < 0 || git_oid_fromstr(&ob, to) < 0 ||
	    git_commit_lookup(&a, repo, &oa) < 0 ||
	    git_commit_lookup(&b, repo, &ob) < 0 ||
	    git_commit_tree(&ta, a) < 0 || git_commit_tree(&tb, b) < 0 ||
	    git_diff_tree_to_tree(&diff, repo, ta, tb, NULL) < 0)
		goto out;
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);

		if (d->old_file.path)
			strvec_push(files, d->old_file.path);
		if (d->new_file.path)
			strvec_push(files, d->new_file.path);
	}
	trigger_files_unique(files);
	ok = true;
out:
	git_error_clear();
	git_diff_free(diff);
	git_tree_free(ta);
	git_tree_free(tb);
	git_commit_free(a);
	git_commit_free(b);
	git_repository_free(repo);
	return ok;
}

static void push_start(struct wh_start **starts, size_t *nr, size_t index,
		       const struct pl_action *a, const char *ref,
		       const char *sha)
{
	struct wh_start *s;
	bool tag = !strncmp(ref, "refs/tags/", 10);

	/* two source actions on one repository: one execution runs both */
	for (size_t i = 0; i < *nr; i++)
		if (!strcmp((*starts)[i].ref, ref) &&
		    !strcmp((*starts)[i].revision, sha))
			return;
	*starts = xrealloc(*starts, (*nr + 1) * sizeof(**starts));
	s = &(*starts)[(*nr)++];
	memset(s, 0, sizeof(*s));
	s->pipeline = index;
	s->revision = xstrdup(sha);
	s->ref = xstrdup(ref);
	s->summary =
		xasprintf("poll: %s %s moved to %.12s", tag ? "tag" : "branch",
			  ref + (tag ? 10 : 11), sha);
	s->source_action = xstrdup(a->name);
	s->trigger_type = xstrdup("PollForSourceChanges");
}

/* One source action's repository. */
static int check_source(struct pipeline *pl, size_t index,
			const struct pl_action *a, struct store *s,
			const char *sources_dir, struct wh_start **starts,
			size_t *nr, struct sw_err *e)
{
	const struct pl_binding *b = &pl->sources[a->binding];
	struct strvec refs = STRVEC_INIT, oids = STRVEC_INIT;
	struct strvec seen = STRVEC_INIT, seen_oids = STRVEC_INIT;
	struct strvec moved = STRVEC_INIT; /* indexes into refs, as text */
	struct strvec lost = STRVEC_INIT; /* of those, another poller's */
	struct strvec now_refs = STRVEC_INIT, now_oids = STRVEC_INIT;
	char *norm = mirror_normalise(b->target);
	char *key = xasprintf("%s\t%s\t%s", pl->name, a->name, norm);
	char *gitdir = NULL;
	int64_t now = now_ms();
	bool first;
	int ret = -1;

	if (source_ls_remote(b->target, &refs, &oids, e) < 0 ||
	    store_poll_heads(s, key, &seen, &seen_oids, e) < 0)
		goto out;
	first = !seen.nr;
	for (size_t i = 0; i < refs.nr; i++) {
		long at = strvec_find(&seen, refs.v[i]);
		const char *ref = refs.v[i];
		struct trig_event ev = TRIG_EVENT_INIT;
		struct buf why = BUF_INIT;

		if (at >= 0 && !strcmp(seen_oids.v[at], oids.v[i]))
			continue;
		if (first)
			continue;
		/* could it start the pipeline, whatever files changed? */
		ev.kind = !strncmp(ref, "refs/tags/", 10) ? TRIG_TAG
							  : TRIG_BRANCH;
		ev.name = ref + (ev.kind == TRIG_TAG ? 10 : 11);
		if (trigger_matches(pl, a, &ev, &why))
			strvec_pushf(&moved, "%zu", i);
		buf_release(&why);
	}
	if (moved.nr &&
	    source_mirror_update(sources_dir, b->target, &gitdir, e) < 0)
		goto out;
	/*
	 * Record what was seen under the store's write lock, and start only
	 * what this process is first to see move: a poller racing with this
	 * one (another server on the same state directory) has recorded it
	 * already, and starts it itself.
	 */
	if (store_begin(s, e) < 0)
		goto out;
	if (store_poll_heads(s, key, &now_refs, &now_oids, e) < 0)
		goto rollback;
	for (size_t i = 0; i < refs.nr; i++) {
		long at = strvec_find(&seen, refs.v[i]);
		long cur = strvec_find(&now_refs, refs.v[i]);

		if (!((at < 0) == (cur < 0) &&
		      (at < 0 || !strcmp(seen_oids.v[at], now_oids.v[cur]))))
			strvec_pushf(&lost, "%zu", i);
		else if ((at < 0 || strcmp(seen_oids.v[at], oids.v[i])) &&
			 store_poll_head_set(s, key, refs.v[i], oids.v[i], now,
					     e) < 0)
			goto rollback;
	}
	for (size_t i = 0; i < seen.nr; i++)
		if (strvec_find(&refs, seen.v[i]) < 0 &&
		    strvec_find(&now_refs, seen.v[i]) >= 0 &&
		    store_poll_head_set(s, key, seen.v[i], NULL, now, e) < 0)
			goto rollback;
	if (store_commit(s, e) < 0)
		goto rollback;
	for (size_t k = 0; k < moved.nr; k++) {
		size_t i = strtoul(moved.v[k], NULL, 10);
		long at = strvec_find(&seen, refs.v[i]);
		struct trig_event ev = TRIG_EVENT_INIT;
		struct strvec files = STRVEC_INIT;
		struct buf why = BUF_INIT;

		if (strvec_find(&lost, moved.v[k]) >= 0)
			continue;
		ev.kind = !strncmp(refs.v[i], "refs/tags/", 10) ? TRIG_TAG
								: TRIG_BRANCH;
		ev.name = refs.v[i] + (ev.kind == TRIG_TAG ? 10 : 11);
		ev.files = &files;
		ev.files_known =
			at >= 0 && changed_files(gitdir, seen_oids.v[at],
						 oids.v[i], &files);
		if (trigger_matches(pl, a, &ev, &why))
			push_start(starts, nr, index, a, refs.v[i], oids.v[i]);
		buf_release(&why);
		strvec_release(&files);
	}
	ret = 0;
	goto out;
rollback:
	store_rollback(s);
out:
	strvec_release(&refs);
	strvec_release(&oids);
	strvec_release(&seen);
	strvec_release(&seen_oids);
	strvec_release(&moved);
	strvec_release(&lost);
	strvec_release(&now_refs);
	strvec_release(&now_oids);
	free(gitdir);
	free(norm);
	free(key);
	return ret;
}

int poll_check(struct pipeline *pl, size_t index, const char *state_dir,
	       struct wh_start **starts, size_t *nr, struct sw_err *e)
{
	char *db = store_locate(state_dir);
	char *sources = fs_join(state_dir ? state_dir : ".", "sources");
	struct store *s = NULL;
	int ret = -1;

	*starts = NULL;
	*nr = 0;
	if (store_open(&s, db, e) < 0)
		goto out;
	for (size_t i = 0; pl->nr_stages && i < pl->stages[0].nr_actions; i++) {
		const struct pl_action *a = &pl->stages[0].actions[i];

		if (a->category != PL_SOURCE || a->binding < 0 ||
		    (size_t)a->binding >= pl->nr_sources ||
		    a->provider == PL_S3 || !is_repo(&pl->sources[a->binding]))
			continue;
		if (check_source(pl, index, a, s, sources, starts, nr, e) < 0) {
			err_prefix(e, "poll of pipeline '%s'", pl->name);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret < 0) {
		for (size_t i = 0; i < *nr; i++)
			wh_start_release(&(*starts)[i]);
		free(*starts);
		*starts = NULL;
		*nr = 0;
	}
	store_close(s);
	free(db);
	free(sources);
	return ret;
}
