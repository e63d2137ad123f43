#include "source.h"

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dirty.h"
#include "fs.h"
#include "lazylib.h"
#include "proc.h"
#include "mirror.h"
#include "retire.h"
#include "strvec.h"
#include "xalloc.h"

#include "banned.h"

/* Nested submodules deeper than this are taken for a loop. */
#define SOURCE_MAX_SUBMODULE_DEPTH 16

static const char *const url_schemes[] = {
	"file://", "https://",	 "http://",    "ssh://",
	"git://",  "git+ssh://", "ssh+git://",
};

bool source_is_git_url(const char *source)
{
	const char *colon, *at, *slash;
	size_t i;

	if (!source)
		return false;
	for (i = 0; i < ARRAY_SIZE(url_schemes); i++)
		if (!strncasecmp(source, url_schemes[i],
				 strlen(url_schemes[i])))
			return true;
	/* scp-like user@host:path, as git reads it: ':' before any '/'. */
	colon = strchr(source, ':');
	if (!colon || colon[1] == '\0')
		return false;
	slash = strchr(source, '/');
	if (slash && slash < colon)
		return false;
	at = memchr(source, '@', (size_t)(colon - source));
	return at && at > source && at + 1 < colon;
}

/* The last component of [s, end) after a '/' (or a ':' in a URL). */
static const char *last_component(const char *s, const char **end, bool url)
{
	const char *p;

	while (*end > s && (*end)[-1] == '/')
		(*end)--;
	for (p = *end; p > s; p--)
		if (p[-1] == '/' || (url && p[-1] == ':'))
			break;
	return p;
}

char *source_project_name(const char *source)
{
	bool url = source_is_git_url(source);
	char *path = NULL, *name;
	const char *s, *end, *base;
	size_t n, i;

	if (!source || !*source)
		source = ".";
	s = url ? source : (path = fs_abspath(source));
	end = s + strlen(s);
	base = last_component(s, &end, url);
	/* "repo/.git" is the repository "repo". */
	if (end - base == 4 && !memcmp(base, ".git", 4)) {
		end = base;
		base = last_component(s, &end, url);
	}
	n = (size_t)(end - base);
	if (n > 4 && !memcmp(end - 4, ".git", 4))
		n -= 4;
	name = xstrndup(base, n);
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			name[i] = '-';
	}
	if (strspn(name, ".") == n) {
		free(name);
		name = xstrdup("project");
	}
	free(path);
	return name;
}

void source_result_release(struct source_result *r)
{
	free(r->kind);
	free(r->repo_url);
	free(r->source_version);
	free(r->resolved_version);
	free(r->mirror);
	r->kind = r->repo_url = r->source_version = r->resolved_version = NULL;
	r->mirror = NULL;
	r->mirror_hit = false;
	r->fetched_objects = 0;
	r->seconds_fetch = r->seconds_checkout = 0;
	r->checkout = NULL;
	free(r->pool);
	free(r->pool_name);
	r->pool = r->pool_name = NULL;
	r->written = r->kept = r->removed = 0;
}

char *source_cache_summary(const struct source_result *r)
{
	char *counts = NULL, *s;

	if (r->checkout && !strcmp(r->checkout, "recycled"))
		counts = xasprintf(": %zu written, %zu kept, %zu removed",
				   r->written, r->kept, r->removed);
	if (r->mirror)
		s = xasprintf("Source cache: mirror %s, %lu objects fetched in "
			      "%.3f s, checked out (%s%s) in %.3f s",
			      r->mirror_hit ? "hit" : "created",
			      r->fetched_objects, r->seconds_fetch,
			      r->checkout ? r->checkout : "-",
			      counts ? counts : "", r->seconds_checkout);
	else if (r->checkout)
		s = xasprintf("Source copy: %s%s in %.3f s", r->checkout,
			      counts ? counts : "", r->seconds_checkout);
	else
		s = NULL;
	free(counts);
	return s;
}

/*
 * The file clock of pool (fs_clock_after() on <pool>/.clock, the pool
 * made if absent); 0, or -1 when it cannot be read (then the tree is not
 * recycled: nothing is lost but speed).
 */
static int pool_clock(const char *pool, struct timespec *t)
{
	struct sw_err e = SW_ERR_INIT;
	char *marker = fs_join(pool, ".clock");
	int ret = fs_mkdir_p(pool, 0755, &e) < 0 ||
				  fs_clock_after(marker, t, &e) < 0
			  ? -1
			  : 0;

	free(marker);
	return ret;
}

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init(void)
{
	git_libgit2_init();
	/*
	 * A source owned by another user (a checkout mounted into a
	 * container) is only read to be cloned; libgit2 runs no hooks or
	 * filters from its config, so the ownership check only gets in the
	 * way.
	 */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	/*
	 * Index entries and refs are only ever made for objects read from
	 * the repository itself: checking that each exists (an access(2)
	 * per loose object, 5000 for a checkout of 5000 files) proves
	 * nothing.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
}

/*
 * libgit2 loaded (lib/lazylib.h) and set up, once; -1 when it cannot be
 * loaded. Before it, nothing may call libgit2, not even a _free(NULL).
 */
static int git_ready(struct sw_err *e)
{
	if (lazylib_need("git2", e) < 0)
		return -1;
	pthread_once(&git_once, git_init);
	return 0;
}

static const char *git_msg(void)
{
	const git_error *ge = git_error_last();

	return ge && ge->message ? ge->message : "unknown error";
}

/* State shared by the callbacks of one fetch. */
struct fetch_ctx {
	const char *url; /* what is being cloned now, for progress */
	bool progress; /* print progress on stderr */
	int line_len; /* length of the progress line on screen */
	int last_pct; /* last transfer percentage printed, -1 none */
	int checkout_pct; /* last checkout percentage printed, -1 none */
	int ssh_attempt; /* next credential to offer */
	char auth[256]; /* why authentication failed, "" if it did not */
};

static void progress_line(struct fetch_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void progress_line(struct fetch_ctx *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	/* Pad over what is left of a longer previous line. */
	fprintf(stderr, "\r%s%*s", line, c->line_len > n ? c->line_len - n : 0,
		"");
	c->line_len = n;
	fflush(stderr);
}

static void progress_end(struct fetch_ctx *c)
{
	if (c->line_len) {
		fputc('\n', stderr);
		c->line_len = 0;
	}
	c->last_pct = -1;
	c->checkout_pct = -1;
}

static int transfer_cb(const git_indexer_progress *st, void *payload)
{
	struct fetch_ctx *c = payload;
	int pct;

	if (!c->progress || !st->total_objects)
		return 0;
	pct = (int)((unsigned long long)st->received_objects * 100 /
		    st->total_objects);
	if (pct == c->last_pct)
		return 0;
	c->last_pct = pct;
	progress_line(c, "cloning %s: %d%% (%u/%u objects)", c->url, pct,
		      st->received_objects, st->total_objects);
	return 0;
}

static void checkout_cb(const char *path, size_t done, size_t total,
			void *payload)
{
	struct fetch_ctx *c = payload;
	int pct;

	(void)path;
	if (!c->progress || !total)
		return;
	pct = (int)(done * 100 / total);
	if (pct == c->checkout_pct)
		return;
	c->checkout_pct = pct;
	progress_line(c, "cloning %s: checking out %d%% (%zu/%zu files)",
		      c->url, pct, done, total);
}

/* A directory being copied: a line after the first half second, then at
 * most ten a second, on a terminal. */
struct copy_progress {
	struct fetch_ctx c;
	const char *what;
	int64_t start, last;
};

static void copy_cb(size_t files, unsigned long long bytes, void *data)
{
	struct copy_progress *p = data;
	int64_t now = proc_now_ms();

	if (now - p->start < 500 || now - p->last < 100)
		return;
	p->last = now;
	progress_line(&p->c, "copying %s: %zu files, %.1f MB", p->what, files,
		      (double)bytes / 1e6);
}

/* fs_copy_tree with progress when asked for. */
static int copy_tree(const struct source_opts *o, const char *src,
		     const char *const *skip, fs_copy_filter_fn filter,
		     void *filter_data, struct sw_err *e)
{
	struct copy_progress p = { { o->source, true, 0, -1, -1, 0, "" },
				   o->source,
				   proc_now_ms(),
				   0 };
	int rc = fs_copy_tree_with(src, o->dest, skip, filter, filter_data,
				   o->progress ? copy_cb : NULL, &p, e);

	progress_end(&p.c);
	return rc;
}

static char *home_file(const char *rel)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (!home || !*home) {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/";
	}
	return fs_join(home, rel);
}

static int ssh_key_cred(git_credential **out, const char *user,
			const char *name)
{
	char *priv = home_file(name);
	char *pub = xasprintf("%s.pub", priv);
	int ret = -1;

	if (fs_exists(priv))
		ret = git_credential_ssh_key_new(
			out, user, fs_exists(pub) ? pub : NULL, priv, NULL);
	free(priv);
	free(pub);
	return ret;
}

/*
 * Offer, one per call (libgit2 calls again after a rejection): the ssh
 * agent, ~/.ssh/id_ed25519, ~/.ssh/id_rsa. Nothing is ever prompted for.
 */
static int cred_cb(git_credential **out, const char *url,
		   const char *user_from_url, unsigned int allowed,
		   void *payload)
{
	struct fetch_ctx *c = payload;
	const char *user = user_from_url;
	struct passwd *pw;

	if (!user || !*user) {
		pw = getpwuid(getuid());
		user = pw ? pw->pw_name : "git";
	}
	if (allowed & GIT_CREDENTIAL_SSH_KEY) {
		for (;;) {
			int i = c->ssh_attempt++;

			if (i == 0) {
				if (getenv("SSH_AUTH_SOCK") &&
				    !git_credential_ssh_key_from_agent(out,
								       user))
					return 0;
			} else if (i == 1) {
				if (!ssh_key_cred(out, user, ".ssh/id_ed25519"))
					return 0;
			} else if (i == 2) {
				if (!ssh_key_cred(out, user, ".ssh/id_rsa"))
					return 0;
			} else {
				break;
			}
		}
		snprintf(c->auth, sizeof(c->auth),
			 "ssh authentication as '%s' failed (tried the ssh "
			 "agent, ~/.ssh/id_ed25519, ~/.ssh/id_rsa)",
			 user);
		return GIT_EUSER;
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	snprintf(c->auth, sizeof(c->auth),
		 "'%s' asks for credentials, which slipway does not prompt "
		 "for; use a public repository or an ssh URL",
		 url);
	return GIT_EUSER;
}

static void fetch_callbacks(git_remote_callbacks *cb, struct fetch_ctx *c)
{
	cb->credentials = cred_cb;
	cb->transfer_progress = transfer_cb;
	cb->payload = c;
}

static int clone_error(struct sw_err *e, struct fetch_ctx *c, const char *url)
{
	return err_set(e, ERR_FAILED, "cannot clone '%s': %s", url,
		       c->auth[0] ? c->auth : git_msg());
}

/*
 * The ref as a branch (under branches: "refs/remotes/origin/" in a clone,
 * "refs/heads/" in a mirror), a tag, then anything revparse takes.
 */
static int resolve_ref(git_repository *repo, const char *branches,
		       const char *ref, git_commit **commit)
{
	char *spec[3];
	git_object *obj = NULL;
	size_t i;
	int ret = -1;

	if (!strncmp(ref, "refs/heads/", 11))
		spec[0] = xasprintf("%s%s", branches, ref + 11);
	else
		spec[0] = xasprintf("%s%s", branches, ref);
	spec[1] = xasprintf("refs/tags/%s", ref);
	spec[2] = xstrdup(ref);
	for (i = 0; i < ARRAY_SIZE(spec) && ret < 0; i++) {
		if (git_revparse_single(&obj, repo, spec[i]) < 0)
			continue;
		ret = git_object_peel((git_object **)commit, obj,
				      GIT_OBJECT_COMMIT);
		git_object_free(obj);
	}
	for (i = 0; i < ARRAY_SIZE(spec); i++)
		free(spec[i]);
	return ret;
}

static int collect_submodule(git_submodule *sm, const char *name, void *payload)
{
	(void)sm;
	strvec_push(payload, name);
	return 0;
}

static int update_submodules(git_repository *repo, struct fetch_ctx *c,
			     int depth, struct sw_err *e)
{
	struct strvec names = STRVEC_INIT;
	const char *workdir = git_repository_workdir(repo);
	char *gitmodules;
	size_t i;
	int ret = -1;

	if (!workdir)
		return 0;
	gitmodules = fs_join(workdir, ".gitmodules");
	if (!fs_exists(gitmodules)) {
		free(gitmodules);
		return 0;
	}
	free(gitmodules);
	if (depth >= SOURCE_MAX_SUBMODULE_DEPTH)
		return err_set(e, ERR_FAILED,
			       "submodules of '%s' nested too deep", c->url);
	if (git_submodule_foreach(repo, collect_submodule, &names) < 0) {
		err_set(e, ERR_FAILED, "cannot read submodules of '%s': %s",
			c->url, git_msg());
		goto out;
	}
	for (i = 0; i < names.nr; i++) {
		git_submodule_update_options uo;
		git_submodule *sm = NULL;
		git_repository *sub = NULL;
		const char *parent_url = c->url;
		const char *sm_url;
		int r;

		if (git_submodule_lookup(&sm, repo, names.v[i]) < 0) {
			err_set(e, ERR_FAILED,
				"cannot find submodule '%s' of '%s': %s",
				names.v[i], c->url, git_msg());
			goto out;
		}
		sm_url = git_submodule_url(sm);
		git_submodule_update_options_init(
			&uo, GIT_SUBMODULE_UPDATE_OPTIONS_VERSION);
		fetch_callbacks(&uo.fetch_opts.callbacks, c);
		uo.checkout_opts.progress_cb = checkout_cb;
		uo.checkout_opts.progress_payload = c;
		c->url = sm_url ? sm_url : names.v[i];
		c->auth[0] = '\0';
		c->ssh_attempt = 0;
		r = git_submodule_update(sm, 1, &uo);
		if (r < 0)
			err_set(e, ERR_FAILED,
				"cannot update submodule '%s' of '%s': %s",
				names.v[i], parent_url,
				c->auth[0] ? c->auth : git_msg());
		else if ((r = git_submodule_open(&sub, sm)) < 0)
			err_set(e, ERR_FAILED,
				"cannot open submodule '%s' of '%s': %s",
				names.v[i], parent_url, git_msg());
		else
			r = update_submodules(sub, c, depth + 1, e);
		progress_end(c);
		c->url = parent_url;
		git_repository_free(sub);
		git_submodule_free(sm);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	strvec_release(&names);
	return ret;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fetch every branch and tag of url into the mirror, pruning the rest. */
/*
 * A ref that is neither a branch nor a tag, such as a pull request's head
 * (refs/pull/N/head, refs/merge-requests/N/head): fetched on its own as
 * well, as it is the only name of its commit in the repository.
 */
static bool extra_ref(const char *ref)
{
	return ref && !strncmp(ref, "refs/", 5) &&
	       strncmp(ref, "refs/heads/", 11) &&
	       strncmp(ref, "refs/tags/", 10) && !strchr(ref, ':') &&
	       !strchr(ref, '*') && !strstr(ref, "..") &&
	       git_reference_is_valid_name(ref);
}

static int fetch_remote(git_repository *mirror, const char *url,
			const char *ref, struct fetch_ctx *c,
			unsigned long *fetched, struct sw_err *e)
{
	static char heads[] = "+refs/heads/*:refs/heads/*";
	static char tags[] = "+refs/tags/*:refs/tags/*";
	char *extra = extra_ref(ref) ? xasprintf("+%s:%s", ref, ref) : NULL;
	char *specs[] = { heads, tags, extra };
	git_strarray refspecs = { specs, extra ? 3 : 2 };
	git_fetch_options fo;
	git_remote *remote = NULL;
	git_buf head = { NULL, 0, 0 };
	int ret = -1;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fetch_callbacks(&fo.callbacks, c);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (git_remote_create_anonymous(&remote, mirror, url) < 0 ||
	    git_remote_connect(remote, GIT_DIRECTION_FETCH, &fo.callbacks,
			       &fo.proxy_opts, &fo.custom_headers) < 0)
		goto fail;
	/* an empty repository or a server without HEAD: keep ours */
	if (git_remote_default_branch(&head, remote) < 0)
		git_error_clear();
	if (git_remote_download(remote, &refspecs, &fo) < 0 ||
	    git_remote_update_tips(remote, &fo.callbacks, 1,
				   GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL) < 0 ||
	    git_remote_prune(remote, &fo.callbacks) < 0)
		goto fail;
	*fetched = git_remote_stats(remote)->received_objects;
	git_remote_disconnect(remote);
	if (head.ptr && git_repository_set_head(mirror, head.ptr) < 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	clone_error(e, c, url);
out:
	git_buf_dispose(&head);
	git_remote_free(remote);
	free(extra);
	return ret;
}

/* A clone has the branches and tags of its origin: fetch an extra_ref()
 * (a pull request's head) into it as well, under its own name. */
static int fetch_extra(git_repository *repo, const char *ref,
		       struct fetch_ctx *c, struct sw_err *e)
{
	char *spec = xasprintf("+%s:%s", ref, ref);
	char *specs[] = { spec };
	git_strarray refspecs = { specs, 1 };
	git_fetch_options fo;
	git_remote *remote = NULL;
	int ret = 0;

	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fetch_callbacks(&fo.callbacks, c);
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (git_remote_lookup(&remote, repo, "origin") < 0 ||
	    git_remote_fetch(remote, &refspecs, &fo, NULL) < 0) {
		clone_error(e, c, c->url);
		ret = -1;
	}
	git_remote_free(remote);
	free(spec);
	return ret;
}

/* A mirror brought up to date and the commit the ref names in it. */
struct mirrored {
	struct mirror m;
	git_repository *mirror;
	git_commit *commit;
	char *version; /* the ref as given, the branch, or NULL */
	unsigned long fetched;
};

#define MIRRORED_INIT                                                          \
	{                                                                      \
		MIRROR_INIT, NULL, NULL, NULL, 0                               \
	}

static void mirrored_release(struct mirrored *x)
{
	free(x->version);
	git_commit_free(x->commit);
	git_repository_free(x->mirror);
	mirror_release(&x->m);
	x->version = NULL;
	x->commit = NULL;
	x->mirror = NULL;
}

/*
 * The repository a file:// URL names, opened, when mirror_fetch_file()
 * can bring its mirror up to date (a ref outside branches and tags it
 * does not fetch); NULL leaves it to libgit2's transport, which also says
 * why a source cannot be read.
 */
static git_repository *file_source(const char *url, const char *ref)
{
	git_repository *src = NULL;

	if (strncmp(url, "file:///", 8) || strchr(url, '%') || extra_ref(ref))
		return NULL;
	if (git_repository_open_ext(&src, url + 7,
				    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		git_error_clear();
		return NULL;
	}
	return src;
}

/*
 * Update the mirror of url under o->mirror_dir and resolve o->ref in it;
 * the mirror is unlocked on return (its objects are immutable).
 */
static int mirror_update(const struct source_opts *o, const char *url,
			 struct fetch_ctx *c, struct mirrored *x,
			 struct sw_err *e)
{
	git_repository *src = NULL;
	git_reference *head = NULL;
	int ret = -1;

	if (mirror_open(&x->m, o->mirror_dir, url, e) < 0)
		goto out;
	if (x->m.local) {
		if (git_repository_open_ext(&src, url,
					    GIT_REPOSITORY_OPEN_NO_SEARCH,
					    NULL) < 0) {
			clone_error(e, c, url);
			goto out;
		}
		if (mirror_sync_local(&x->m, git_repository_commondir(src),
				      &x->fetched, e) < 0)
			goto out;
	} else if ((src = file_source(url, o->ref))) {
		if (mirror_fetch_file(&x->m, git_repository_commondir(src),
				      &x->fetched, e) < 0)
			goto out;
	}
	if (git_repository_open_bare(&x->mirror, x->m.gitdir) < 0) {
		err_set(e, ERR_FAILED, "cannot open mirror '%s': %s",
			x->m.gitdir, git_msg());
		goto out;
	}
	if (!src && fetch_remote(x->mirror, url, o->ref, c, &x->fetched, e) < 0)
		goto out;
	progress_end(c);
	if (o->ref) {
		if (resolve_ref(x->mirror, "refs/heads/", o->ref, &x->commit) <
		    0) {
			err_set(e, ERR_FAILED, "cannot find ref '%s' in '%s'",
				o->ref, url);
			goto out;
		}
		x->version = xstrdup(o->ref);
	} else {
		if (git_repository_head(&head, x->mirror) < 0 ||
		    git_reference_peel((git_object **)&x->commit, head,
				       GIT_OBJECT_COMMIT) < 0) {
			err_set(e, ERR_FAILED,
				"cannot clone '%s': no commit checked out: %s",
				url, git_msg());
			goto out;
		}
		if (git_reference_is_branch(head))
			x->version = xstrdup(git_reference_shorthand(head));
	}
	ret = 0;
out:
	/* objects are only ever added: reading and checking out need no lock */
	mirror_unlock(&x->m);
	git_reference_free(head);
	git_repository_free(src);
	return ret;
}

/* Fill the git fields of r from x. */
static void mirrored_result(struct mirrored *x, const char *url,
			    struct source_result *r)
{
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), git_commit_id(x->commit));
	r->kind = xstrdup("git");
	r->repo_url = xstrdup(url);
	r->source_version = x->version ? x->version : xstrdup(hex);
	x->version = NULL;
	r->resolved_version = xstrdup(hex);
	r->mirror = xstrdup(x->m.gitdir);
	r->mirror_hit = x->m.existed;
	r->fetched_objects = x->fetched;
}

/* o->source through the mirror under o->mirror_dir. */
static int fetch_mirrored(const struct source_opts *o, const char *url,
			  struct source_result *r, struct sw_err *e)
{
	struct fetch_ctx c = { url, o->progress, 0, -1, -1, 0, "" };
	struct mirrored x = MIRRORED_INIT;
	struct mirror_counts n = { 0, 0, 0 };
	git_repository *repo = NULL;
	const char *how = NULL;
	struct timespec done;
	double t0 = now_seconds(), t1;
	int ret = -1;

	if (mirror_update(o, url, &c, &x, e) < 0)
		goto out;
	t1 = now_seconds();
	if (mirror_checkout(&x.m, git_commit_id(x.commit), url, o->dest, &how,
			    &n, e) < 0) {
		err_prefix(e, "cannot check out '%s'", url);
		goto out;
	}
	if (git_repository_open_ext(&repo, o->dest,
				    GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
		err_set(e, ERR_FAILED, "cannot open '%s': %s", o->dest,
			git_msg());
		goto out;
	}
	if (update_submodules(repo, &c, 0, e) < 0)
		goto out;
	mirrored_result(&x, url, r);
	if (strcmp(how, "libgit2") && pool_clock(x.m.spares, &done) == 0) {
		r->pool = xstrdup(x.m.spares);
		r->pool_name =
			mirror_recycle_name(git_commit_id(x.commit), &done);
	}
	r->written = n.written;
	r->kept = n.kept;
	r->removed = n.removed;
	r->seconds_fetch = t1 - t0;
	r->seconds_checkout = now_seconds() - t1;
	r->checkout = how;
	if (!o->no_spare)
		source_spare_start(r);
	ret = 0;
out:
	progress_end(&c);
	git_repository_free(repo);
	mirrored_release(&x);
	return ret;
}

int source_ls_remote(const char *url, struct strvec *refs, struct strvec *oids,
		     struct sw_err *e)
{
	struct fetch_ctx c = { url, false, 0, -1, -1, 0, "" };
	git_remote_callbacks cb;
	git_remote *remote = NULL;
	const git_remote_head **heads;
	size_t n;
	int ret = -1;

	if (git_ready(e) < 0)
		return -1;
	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	fetch_callbacks(&cb, &c);
	if (git_remote_create_detached(&remote, url) < 0 ||
	    git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL) <
		    0 ||
	    git_remote_ls(&heads, &n, remote) < 0) {
		err_set(e, ERR_FAILED, "cannot list '%s': %s", url,
			c.auth[0] ? c.auth : git_msg());
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = heads[i]->name;
		size_t len = strlen(name);
		char hex[GIT_OID_HEXSZ + 1];
		long at;

		if (strncmp(name, "refs/heads/", 11) &&
		    strncmp(name, "refs/tags/", 10))
			continue;
		git_oid_tostr(hex, sizeof(hex), &heads[i]->oid);
		if (len > 3 && !strcmp(name + len - 3, "^{}")) {
			/* the peeled commit of the annotated tag before */
			char *tag = xstrndup(name, len - 3);

			at = strvec_find(refs, tag);
			free(tag);
			if (at >= 0) {
				free(oids->v[at]);
				oids->v[at] = xstrdup(hex);
			}
			continue;
		}
		strvec_push(refs, name);
		strvec_push(oids, hex);
	}
	ret = 0;
out:
	git_remote_free(remote);
	return ret;
}

int source_mirror_update(const char *mirror_dir, const char *url, char **gitdir,
			 struct sw_err *e)
{
	struct fetch_ctx c = { url, false, 0, -1, -1, 0, "" };
	struct mirror m = MIRROR_INIT;
	git_repository *mirror = NULL, *src = NULL;
	unsigned long fetched = 0;
	int ret = -1;

	if (git_ready(e) < 0)
		return -1;
	if (mirror_open(&m, mirror_dir, url, e) < 0)
		goto out;
	if (m.local) {
		if (git_repository_open_ext(&src, url,
					    GIT_REPOSITORY_OPEN_NO_SEARCH,
					    NULL) < 0) {
			clone_error(e, &c, url);
			goto out;
		}
		if (mirror_sync_local(&m, git_repository_commondir(src),
				      &fetched, e) < 0)
			goto out;
	} else if ((src = file_source(url, NULL))) {
		if (mirror_fetch_file(&m, git_repository_commondir(src),
				      &fetched, e) < 0)
			goto out;
	} else {
		if (git_repository_open_bare(&mirror, m.gitdir) < 0) {
			err_set(e, ERR_FAILED, "cannot open mirror '%s': %s",
				m.gitdir, git_msg());
			goto out;
		}
		if (fetch_remote(mirror, url, NULL, &c, &fetched, e) < 0)
			goto out;
	}
	if (gitdir)
		*gitdir = xstrdup(m.gitdir);
	ret = 0;
out:
	git_repository_free(mirror);
	git_repository_free(src);
	mirror_release(&m);
	return ret;
}

static int fetch_git(const struct source_opts *o, const char *url,
		     struct source_result *r, struct sw_err *e)
{
	git_clone_options co;
	struct fetch_ctx c = { url, o->progress, 0, -1, -1, 0, "" };
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	char *version = NULL;
	int ret = -1;

	if (git_ready(e) < 0)
		return -1;
	if (o->mirror_dir && !o->no_cache)
		return fetch_mirrored(o, url, r, e);
	git_clone_options_init(&co, GIT_CLONE_OPTIONS_VERSION);
	fetch_callbacks(&co.fetch_opts.callbacks, &c);
	co.checkout_opts.progress_cb = checkout_cb;
	co.checkout_opts.progress_payload = &c;
	/* Copy (or hard-link) the objects of a local repository. */
	co.local = GIT_CLONE_LOCAL;
	/* A ref is checked out once, below, not the default branch first. */
	if (o->ref)
		co.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	if (git_clone(&repo, url, o->dest, &co) < 0) {
		clone_error(e, &c, url);
		goto out;
	}
	if (o->ref && extra_ref(o->ref) && fetch_extra(repo, o->ref, &c, e) < 0)
		goto out;
	if (o->ref) {
		git_checkout_options ch;

		git_checkout_options_init(&ch, GIT_CHECKOUT_OPTIONS_VERSION);
		if (resolve_ref(repo, "refs/remotes/origin/", o->ref, &commit) <
		    0) {
			err_set(e, ERR_FAILED, "cannot find ref '%s' in '%s'",
				o->ref, url);
			goto out;
		}
		ch.checkout_strategy = GIT_CHECKOUT_FORCE;
		ch.progress_cb = checkout_cb;
		ch.progress_payload = &c;
		if (git_checkout_tree(repo, (git_object *)commit, &ch) < 0 ||
		    git_repository_set_head_detached(
			    repo, git_commit_id(commit)) < 0) {
			err_set(e, ERR_FAILED,
				"cannot check out '%s' of '%s': %s", o->ref,
				url, git_msg());
			goto out;
		}
		version = xstrdup(o->ref);
	} else {
		if (git_repository_head(&head, repo) < 0 ||
		    git_reference_peel((git_object **)&commit, head,
				       GIT_OBJECT_COMMIT) < 0) {
			err_set(e, ERR_FAILED,
				"cannot clone '%s': no commit checked out: %s",
				url, git_msg());
			goto out;
		}
		if (git_reference_is_branch(head))
			version = xstrdup(git_reference_shorthand(head));
	}
	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	if (!version)
		version = xstrdup(hex);
	progress_end(&c);
	if (update_submodules(repo, &c, 0, e) < 0)
		goto out;
	r->kind = xstrdup("git");
	r->repo_url = xstrdup(url);
	r->source_version = version;
	r->resolved_version = xstrdup(hex);
	version = NULL;
	ret = 0;
out:
	progress_end(&c);
	free(version);
	git_commit_free(commit);
	git_reference_free(head);
	git_repository_free(repo);
	return ret;
}

/* A work tree (".git" dir or file inside) or a bare repository. */
static bool is_git_repo(const char *dir)
{
	static const char *const names[] = { ".git", "HEAD", "objects",
					     "refs" };
	bool has[ARRAY_SIZE(names)];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char *p = fs_join(dir, names[i]);

		has[i] = i < 2 ? fs_exists(p) : fs_is_dir(p);
		free(p);
	}
	return has[0] || (has[1] && has[2] && has[3]);
}

/*
 * A retired copy of a work tree waits in its pool (<sources>/<key>.copies)
 * as "copy.<start sec>.<start nsec>.<done sec>.<done nsec>.<pid>.<n>":
 * source files changed since the copy started, and copied files changed
 * since it was done, are copied again.
 */
static char *copy_name(const struct timespec *start,
		       const struct timespec *done)
{
	static unsigned long n;

	return xasprintf("copy.%lld.%ld.%lld.%ld.%ld.%lu",
			 (long long)start->tv_sec, (long)start->tv_nsec,
			 (long long)done->tv_sec, (long)done->tv_nsec,
			 (long)getpid(), ++n);
}

static bool parse_copy_name(const char *name, struct timespec *start,
			    struct timespec *done)
{
	long long a, c;
	long b, d;

	if (strncmp(name, "copy.", 5) ||
	    sscanf(name + 5, "%lld.%ld.%lld.%ld.", &a, &b, &c, &d) != 4 ||
	    b < 0 || b >= 1000000000L || d < 0 || d >= 1000000000L)
		return false;
	start->tv_sec = (time_t)a;
	start->tv_nsec = b;
	done->tv_sec = (time_t)c;
	done->tv_nsec = d;
	return true;
}

/* Rename a retired copy of pool to dest: 1 taken, 0 none. */
static int take_copy(const char *pool, const char *dest, struct timespec *start,
		     struct timespec *done)
{
	struct dirent *de;
	int taken = 0;
	DIR *d = opendir(pool);

	while (d && !taken && (de = readdir(d))) {
		char *from;

		if (!parse_copy_name(de->d_name, start, done))
			continue;
		from = fs_join(pool, de->d_name);
		taken = rename(from, dest) == 0;
		free(from);
	}
	if (d)
		closedir(d);
	return taken;
}

/* The state directory: the one above mirror_dir (<state>/sources). */
static char *state_of(const char *mirror_dir)
{
	char *s = fs_abspath(mirror_dir), *slash = strrchr(s, '/');

	if (slash && slash != s)
		*slash = '\0';
	return s;
}

/*
 * Copy the work tree abs to o->dest: a retired copy brought up to date
 * when the pool has one, else a whole copy.
 */
static int copy_recycling(const struct source_opts *o, const char *abs,
			  const char *const *skip, fs_copy_filter_fn filter,
			  void *filter_data, struct source_result *r,
			  struct sw_err *e)
{
	struct timespec start, before, done;
	struct fs_sync sync;
	char *pool = NULL, *junk = NULL, *state = NULL;
	double t0 = now_seconds();
	int ret = -1;

	if (o->mirror_dir && !o->no_cache)
		pool = mirror_path(o->mirror_dir, abs, ".copies");
	/* a source file changed from now on is copied again next time */
	if (pool && pool_clock(pool, &start) < 0) {
		free(pool);
		pool = NULL;
	}
	if (!pool || !take_copy(pool, o->dest, &before, &done)) {
		r->checkout = "copy";
		if (copy_tree(o, abs, skip, filter, filter_data, e) < 0)
			goto out;
	} else {
		static unsigned long seq;

		r->checkout = "recycled";
		junk = xasprintf("%s/junk.%ld.%lu", pool, (long)getpid(),
				 ++seq);
		if (mkdir(junk, 0700) < 0) {
			err_sys(e, "cannot create '%s'", junk);
			goto out;
		}
		memset(&sync, 0, sizeof(sync));
		/* what changed in the copy after it was done, or in the
		 * source after it began, is copied again */
		sync.trusted_before = before;
		sync.trusted_copy = done;
		sync.junk = junk;
		/* the same files as a whole copy: the filter again */
		sync.filter = filter;
		sync.filter_data = filter_data;
		if (fs_sync_tree(abs, o->dest, skip, &sync, e) < 0)
			goto out;
		r->written = sync.copied;
		r->kept = sync.kept;
		r->removed = sync.removed;
	}
	if (pool && pool_clock(pool, &done) == 0) {
		r->pool = pool;
		r->pool_name = copy_name(&start, &done);
		pool = NULL;
	}
	r->seconds_checkout = now_seconds() - t0;
	ret = 0;
out:
	if (junk) {
		struct sw_err je = SW_ERR_INIT;

		state = state_of(o->mirror_dir);
		if (rmdir(junk) < 0 && retire_tree(state, junk, &je) < 0)
			fs_remove_tree(junk, &je);
	}
	free(state);
	free(junk);
	free(pool);
	return ret;
}

/*
 * What a copy of a source leaves out: o->exclude's paths that lie inside
 * the source, relative to it; with a repository, what git ignores and
 * does not track.
 */
struct copy_filter {
	git_repository *repo; /* NULL: a plain directory */
	git_index *index;
	struct strvec exclude;
};

static void copy_filter_init(struct copy_filter *f, const char *abs,
			     const char *const *exclude)
{
	char *root = realpath(abs, NULL);

	f->repo = NULL;
	f->index = NULL;
	strvec_init(&f->exclude);
	for (; root && exclude && *exclude; exclude++) {
		char *p = realpath(*exclude, NULL);
		size_t n = strlen(root);

		if (p && !strncmp(p, root, n) && p[n] == '/' && p[n + 1])
			strvec_push(&f->exclude, p + n + 1);
		free(p);
	}
	free(root);
}

static void copy_filter_release(struct copy_filter *f)
{
	if (f->index)
		git_index_free(f->index);
	strvec_release(&f->exclude);
}

static enum fs_copy_verdict copy_filter_fn(const char *rel, bool is_dir,
					   void *data)
{
	struct copy_filter *f = data;
	const git_index_entry *ie;
	struct buf dir = BUF_INIT;
	int ignored = 0;
	size_t pos;

	for (size_t i = 0; i < f->exclude.nr; i++)
		if (!strcmp(rel, f->exclude.v[i]))
			return FS_COPY_SKIP;
	if (!f->repo)
		return FS_COPY;
	/* a .git file points at a git directory the user's work tree
	 * shares: the copy gets one of its own instead (own_git_dir) */
	if (!strcmp(rel, ".git"))
		return is_dir ? FS_COPY_ALL : FS_COPY_SKIP;
	ie = git_index_get_bypath(f->index, rel, 0);
	if (ie && is_dir && ie->mode == GIT_FILEMODE_COMMIT)
		return FS_COPY_ALL; /* a submodule's work tree */
	if (ie && !is_dir)
		return FS_COPY;
	if (is_dir) {
		buf_addstr(&dir, rel);
		buf_addch(&dir, '/');
		/* tracked files inside an ignored directory still count */
		if (!git_index_find_prefix(&pos, f->index, dir.ptr)) {
			buf_release(&dir);
			return FS_COPY;
		}
	}
	if (git_ignore_path_is_ignored(&ignored, f->repo,
				       is_dir ? dir.ptr : rel) < 0)
		ignored = 0;
	buf_release(&dir);
	return ignored ? FS_COPY_SKIP : FS_COPY;
}

/*
 * A .git of its own for the copy of a work tree whose .git is a file (a
 * linked work tree, a submodule): the repository's objects borrowed
 * (objects/info/alternates), its refs copied, HEAD detached at the work
 * tree's commit and the index read from that commit, so that git in the
 * build sees the uncommitted changes as changes. Nothing the build does
 * with it reaches the user's repository.
 */
static int own_git_dir(const char *dest, git_repository *src,
		       const git_commit *head, struct sw_err *e)
{
	git_repository_init_options io;
	git_repository *dst = NULL;
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	git_index *idx = NULL;
	git_tree *tree = NULL;
	char *alt = NULL, *objs = NULL, *text = NULL;
	int ret = -1;

	git_repository_init_options_init(&io,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(&dst, dest, &io) < 0)
		goto git_fail;
	git_repository_free(dst);
	dst = NULL;
	objs = fs_join(git_repository_commondir(src), "objects");
	alt = fs_join(dest, ".git/objects/info/alternates");
	text = xasprintf("%s\n", objs);
	if (fs_write_atomic(alt, text, strlen(text), 0644, e) < 0)
		goto out;
	/* opened again: the object database now has the alternates */
	if (git_repository_open(&dst, dest) < 0 ||
	    git_reference_iterator_new(&it, src) < 0)
		goto git_fail;
	while (git_reference_next(&ref, it) == 0) {
		git_reference *copy = NULL;

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    !strncmp(git_reference_name(ref), "refs/", 5))
			git_reference_create(&copy, dst,
					     git_reference_name(ref),
					     git_reference_target(ref), 1,
					     "slipway: the work tree's refs");
		git_reference_free(copy);
		git_reference_free(ref);
	}
	if (head &&
	    (git_repository_set_head_detached(dst, git_commit_id(head)) < 0 ||
	     git_commit_tree(&tree, head) < 0 ||
	     git_repository_index(&idx, dst) < 0 ||
	     git_index_read_tree(idx, tree) < 0 || git_index_write(idx) < 0))
		goto git_fail;
	ret = 0;
	goto out;
git_fail:
	err_set(e, ERR_SYSTEM, "cannot make a .git for the copy in '%s': %s",
		dest, git_msg());
out:
	git_index_free(idx);
	git_tree_free(tree);
	git_reference_iterator_free(it);
	git_repository_free(dst);
	free(text);
	free(alt);
	free(objs);
	return ret;
}

/*
 * The uncommitted-changes check of a work tree (dirty_worktree(): a stat
 * of every tracked file, a read of every directory) runs beside the
 * fetch or copy, which never writes the work tree, when no process is
 * forked meanwhile (threaded: only when the caller starts the spare
 * itself, no_spare); else after it.
 */
struct status_job {
	const char *dir;
	bool dirty;
	bool threaded;
	pthread_t thread;
};

static void *status_main(void *data)
{
	struct status_job *j = data;

	j->dirty = dirty_worktree(j->dir, ".slipway");
	return NULL;
}

static void status_start(struct status_job *j, bool threaded)
{
	j->threaded = threaded &&
		      pthread_create(&j->thread, NULL, status_main, j) == 0;
}

static bool status_end(struct status_job *j)
{
	if (j->threaded)
		pthread_join(j->thread, NULL);
	else
		status_main(j);
	return j->dirty;
}

/*
 * A work tree as it is: tracked files as they are now, untracked files
 * git does not ignore, and .git; HEAD describes it.
 */
static int copy_worktree(const struct source_opts *o, const char *abs,
			 git_repository *repo, struct source_result *r,
			 struct sw_err *e)
{
	static const char *const skip[] = { ".slipway", NULL };
	struct copy_filter f;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int ret = -1;

	copy_filter_init(&f, abs, o->exclude);
	f.repo = repo;
	if (git_repository_index(&f.index, repo) < 0 ||
	    git_index_read(f.index, 0) < 0) {
		err_set(e, ERR_FAILED, "cannot read the index of '%s': %s",
			o->source, git_msg());
		goto out;
	}
	if (copy_recycling(o, abs, skip, copy_filter_fn, &f, r, e) < 0)
		goto out;
	r->kind = xstrdup("git");
	r->repo_url = xstrdup(abs);
	r->worktree = true;
	if (git_repository_head(&head, repo) == 0 &&
	    git_reference_peel((git_object **)&commit, head,
			       GIT_OBJECT_COMMIT) == 0) {
		git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
		r->resolved_version = xstrdup(hex);
		r->source_version =
			xstrdup(git_reference_is_branch(head)
					? git_reference_shorthand(head)
					: hex);
	}
	{
		char *dotgit = fs_join(abs, ".git");
		bool linked = !fs_is_dir(dotgit);

		free(dotgit);
		if (linked && own_git_dir(o->dest, repo, commit, e) < 0)
			goto out;
	}
	ret = 0;
out:
	copy_filter_release(&f);
	git_commit_free(commit);
	git_reference_free(head);
	return ret;
}

int source_fetch(const struct source_opts *o, struct source_result *r,
		 struct sw_err *e)
{
	static const char *const skip[] = { ".slipway", NULL };
	struct copy_filter f;
	struct source_opts dflt;
	struct stat st;
	char *abs;
	int ret;

	if (!o->dest)
		BUG("source_fetch without dest");
	if (!o->source) {
		dflt = *o;
		dflt.source = ".";
		o = &dflt;
	}
	if (source_is_git_url(o->source))
		return fetch_git(o, o->source, r, e);
	if (stat(o->source, &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return err_set(e, ERR_USAGE,
				       "source '%s' does not exist", o->source);
		return err_sys(e, "cannot read source '%s'", o->source);
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_USAGE, "source '%s' is not a directory",
			       o->source);
	abs = fs_abspath(o->source);
	if (is_git_repo(abs)) {
		struct status_job job = { abs, false, false, 0 };
		git_repository *repo = NULL;

		if (git_ready(e) < 0) {
			free(abs);
			return -1;
		}
		if (!o->ref)
			status_start(&job, o->no_spare);
		if (o->worktree && !o->ref &&
		    !git_repository_open_ext(
			    &repo, abs, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) &&
		    !git_repository_is_bare(repo))
			ret = copy_worktree(o, abs, repo, r, e);
		else
			ret = fetch_git(o, abs, r, e);
		if (!o->ref)
			r->uncommitted = status_end(&job) && !ret;
		git_repository_free(repo);
		free(abs);
		return ret;
	}
	if (o->ref) {
		free(abs);
		return err_set(e, ERR_USAGE,
			       "cannot use ref '%s': source '%s' is not a git "
			       "repository",
			       o->ref, o->source);
	}
	copy_filter_init(&f, abs, o->exclude);
	ret = copy_tree(o, o->source, skip, copy_filter_fn, &f, e);
	copy_filter_release(&f);
	free(abs);
	if (ret < 0)
		return -1;
	r->kind = xstrdup("dir");
	return 0;
}

/* Components neither empty, "." nor "..": a path inside a tree. */
static bool plain_path(const char *path)
{
	const char *p = path;

	if (!*p || *p == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (!n || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
		if (!*p && p[-1] == '/')
			return false;
	}
	return true;
}

bool source_readable(const struct source_opts *o)
{
	const char *source = o->source ? o->source : ".";
	char *abs;
	bool yes;

	if (!o->mirror_dir || o->no_cache)
		return false;
	if (source_is_git_url(source))
		return true;
	if ((o->worktree && !o->ref) || !fs_is_dir(source))
		return false; /* a work tree is copied as it is */
	abs = fs_abspath(source);
	yes = is_git_repo(abs);
	free(abs);
	return yes;
}

int source_read_file(const struct source_opts *o, const char *path,
		     struct buf *out, struct source_result *r, struct sw_err *e)
{
	const char *source = o->source ? o->source : ".";
	char *url = source_is_git_url(source) ? xstrdup(source)
					      : fs_abspath(source);
	struct fetch_ctx c = { url, o->progress, 0, -1, -1, 0, "" };
	struct mirrored x = MIRRORED_INIT;
	git_tree *tree = NULL;
	git_tree_entry *te = NULL;
	git_blob *blob = NULL;
	double t0 = now_seconds();
	int ret = -1;

	if (!source_readable(o))
		BUG("source_read_file of a source that is not readable");
	while (!strncmp(path, "./", 2))
		path += 2;
	if (!plain_path(path)) {
		free(url);
		return 2;
	}
	if (git_ready(e) < 0) {
		free(url);
		return -1;
	}
	if (mirror_update(o, url, &c, &x, e) < 0)
		goto out;
	if (git_commit_tree(&tree, x.commit) < 0) {
		err_set(e, ERR_FAILED, "cannot read the tree of '%s': %s", url,
			git_msg());
		goto out;
	}
	mirrored_result(&x, url, r);
	r->seconds_fetch = now_seconds() - t0;
	if (git_tree_entry_bypath(&te, tree, path) < 0 ||
	    git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		git_error_clear();
		ret = 0;
		goto out;
	}
	if (git_tree_entry_filemode(te) == GIT_FILEMODE_LINK) {
		source_result_release(r);
		ret = 2; /* where it points is the checkout's business */
		goto out;
	}
	if (git_blob_lookup(&blob, x.mirror, git_tree_entry_id(te)) < 0) {
		err_set(e, ERR_FAILED, "cannot read '%s' of '%s': %s", path,
			url, git_msg());
		source_result_release(r);
		goto out;
	}
	buf_add(out, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob));
	ret = 1;
out:
	progress_end(&c);
	git_blob_free(blob);
	git_tree_entry_free(te);
	git_tree_free(tree);
	mirrored_release(&x);
	free(url);
	return ret;
}

/* At most this many retired trees wait in a pool. */
#define SOURCE_POOL_MAX 2

int source_note_tree(const char *build_dir, const char *src_dir,
		     const struct source_result *r, struct sw_err *e)
{
	size_t n = strlen(build_dir);
	char *path, *text;
	int ret;

	if (!r->pool || !r->pool_name)
		return 0;
	if (strncmp(src_dir, build_dir, n) || src_dir[n] != '/')
		BUG("source tree outside its build");
	path = fs_join(build_dir, "source-tree");
	text = xasprintf("%s\n%s\n%s\n", src_dir + n + 1, r->pool,
			 r->pool_name);
	ret = fs_replace(path, text, strlen(text), 0644, e);
	free(text);
	free(path);
	return ret;
}

/* A pool this state directory's sources hold: <state>/sources/<hex>.x */
static bool our_pool(const char *state, const char *pool)
{
	char *sources = fs_join(state, "sources");
	size_t n = strlen(sources);
	const char *base = pool + n + 1;
	bool yes =
		!strncmp(pool, sources, n) && pool[n] == '/' &&
		strspn(base, "0123456789abcdef") == 64 &&
		(!strcmp(base + 64, ".spare") || !strcmp(base + 64, ".copies"));

	free(sources);
	return yes;
}

void source_recycle_build(const char *build_dir, void *state_dir)
{
	char *path = fs_join(build_dir, "source-tree");
	char *state = fs_abspath(state_dir);
	char *text = NULL, *from = NULL, *to = NULL;
	char *rel, *pool, *name, *nl;
	struct sw_err e = SW_ERR_INIT;
	size_t len;

	if (fs_read_file(path, 4096, &text, &len, &e) < 0)
		goto out;
	rel = text;
	if (!(nl = strchr(rel, '\n')))
		goto out;
	*nl = '\0';
	pool = nl + 1;
	if (!(nl = strchr(pool, '\n')))
		goto out;
	*nl = '\0';
	name = nl + 1;
	if (!(nl = strchr(name, '\n')))
		goto out;
	*nl = '\0';
	/* written by slipway, but in the build's directory: checked */
	if (strncmp(rel, "codebuild/", 10) || !plain_path(rel) ||
	    !our_pool(state, pool) || strchr(name, '/') ||
	    (strncmp(name, "used.", 5) && strncmp(name, "copy.", 5)) ||
	    mirror_pool_count(pool) >= SOURCE_POOL_MAX)
		goto out;
	from = fs_join(build_dir, rel);
	to = fs_join(pool, name);
	if (fs_mkdir_p(pool, 0755, &e) == 0 && rename(from, to) < 0) {
		/* gone already, or another file system: the trash takes it */
	}
out:
	unlink(path);
	free(from);
	free(to);
	free(text);
	free(state);
	free(path);
}

void source_spare_start(const struct source_result *r)
{
	struct mirror m = MIRROR_INIT;
	git_oid commit;

	/* a recycled tree means retired ones come: none is made */
	if (!r->mirror || !r->pool || !r->resolved_version ||
	    (r->checkout && !strcmp(r->checkout, "recycled")) ||
	    mirror_pool_count(r->pool) ||
	    git_oid_fromstr(&commit, r->resolved_version) < 0)
		return;
	m.url = mirror_normalise(r->repo_url);
	m.gitdir = xstrdup(r->mirror);
	m.spares = xstrdup(r->pool);
	mirror_spare_start(&m, &commit);
	mirror_release(&m);
}
