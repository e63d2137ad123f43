#include "source.h"

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "mirror.h"
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
}

char *source_cache_summary(const struct source_result *r)
{
	if (!r->mirror)
		return NULL;
	return xasprintf("Source cache: mirror %s, %lu objects fetched in "
			 "%.3f s, checked out (%s) in %.3f s",
			 r->mirror_hit ? "hit" : "created", r->fetched_objects,
			 r->seconds_fetch, r->checkout ? r->checkout : "-",
			 r->seconds_checkout);
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

/* o->source through the mirror under o->mirror_dir. */
static int fetch_mirrored(const struct source_opts *o, const char *url,
			  struct source_result *r, struct sw_err *e)
{
	struct fetch_ctx c = { url, o->progress, 0, -1, -1, 0, "" };
	struct mirror m = MIRROR_INIT;
	git_repository *mirror = NULL, *src = NULL, *repo = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	char *version = NULL;
	const char *how = NULL;
	unsigned long fetched = 0;
	double t0 = now_seconds(), t1;
	int ret = -1;

	if (mirror_open(&m, o->mirror_dir, url, e) < 0)
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
	}
	if (git_repository_open_bare(&mirror, m.gitdir) < 0) {
		err_set(e, ERR_FAILED, "cannot open mirror '%s': %s", m.gitdir,
			git_msg());
		goto out;
	}
	if (!m.local && fetch_remote(mirror, url, o->ref, &c, &fetched, e) < 0)
		goto out;
	progress_end(&c);
	if (o->ref) {
		if (resolve_ref(mirror, "refs/heads/", o->ref, &commit) < 0) {
			err_set(e, ERR_FAILED, "cannot find ref '%s' in '%s'",
				o->ref, url);
			goto out;
		}
		version = xstrdup(o->ref);
	} else {
		if (git_repository_head(&head, mirror) < 0 ||
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
	/* objects are only ever added: the checkout needs no lock */
	mirror_unlock(&m);
	t1 = now_seconds();
	if (mirror_checkout(&m, git_commit_id(commit), url, o->dest, &how, e) <
	    0) {
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
	if (!o->no_spare)
		mirror_spare_start(&m, git_commit_id(commit));
	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	r->kind = xstrdup("git");
	r->repo_url = xstrdup(url);
	r->source_version = version ? version : xstrdup(hex);
	r->resolved_version = xstrdup(hex);
	version = NULL;
	r->mirror = xstrdup(m.gitdir);
	r->mirror_hit = m.existed;
	r->fetched_objects = fetched;
	r->seconds_fetch = t1 - t0;
	r->seconds_checkout = now_seconds() - t1;
	r->checkout = how;
	ret = 0;
out:
	progress_end(&c);
	free(version);
	git_commit_free(commit);
	git_reference_free(head);
	git_repository_free(repo);
	git_repository_free(src);
	git_repository_free(mirror);
	mirror_release(&m);
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

	pthread_once(&git_once, git_init);
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

	pthread_once(&git_once, git_init);
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

	pthread_once(&git_once, git_init);
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

/* Does the work tree at dir differ from its HEAD (untracked included)? */
static bool has_uncommitted(const char *dir)
{
	git_status_options so;
	git_status_list *list = NULL;
	git_repository *repo = NULL;
	bool dirty = false;

	if (git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0 ||
	    git_repository_is_bare(repo))
		goto out;
	git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
	so.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED |
		   GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	if (git_status_list_new(&list, repo, &so) < 0)
		goto out;
	for (size_t i = 0; !dirty && i < git_status_list_entrycount(list);
	     i++) {
		const git_status_entry *st = git_status_byindex(list, i);
		const git_diff_delta *d = st->index_to_workdir
						  ? st->index_to_workdir
						  : st->head_to_index;
		const char *path = d ? d->new_file.path : NULL;

		/* slipway's own state directory is not the user's change */
		dirty = !path || strncmp(path, ".slipway/", 9);
	}
out:
	git_status_list_free(list);
	git_repository_free(repo);
	return dirty;
}

/* --worktree: copy the tree as it is, describe its HEAD. */
static int copy_worktree(const struct source_opts *o, const char *abs,
			 struct source_result *r, struct sw_err *e)
{
	static const char *const skip[] = { ".slipway", NULL };
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int ret = -1;

	if (o->ref)
		return err_set(e, ERR_USAGE,
			       "--ref and --worktree cannot go together: the "
			       "work tree is built as it is");
	if (git_repository_open_ext(&repo, abs, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0 ||
	    git_repository_is_bare(repo)) {
		err_set(e, ERR_USAGE, "source '%s' is not a git work tree",
			o->source);
		goto out;
	}
	if (fs_copy_tree(abs, o->dest, skip, e) < 0)
		goto out;
	r->kind = xstrdup("git");
	r->repo_url = xstrdup(abs);
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
	r->uncommitted = has_uncommitted(abs);
	ret = 0;
out:
	git_commit_free(commit);
	git_reference_free(head);
	git_repository_free(repo);
	return ret;
}

int source_fetch(const struct source_opts *o, struct source_result *r,
		 struct sw_err *e)
{
	static const char *const skip[] = { ".slipway", NULL };
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
		pthread_once(&git_once, git_init);
		if (o->worktree) {
			ret = copy_worktree(o, abs, r, e);
		} else {
			ret = fetch_git(o, abs, r, e);
			if (!ret && !o->ref)
				r->uncommitted = has_uncommitted(abs);
		}
		free(abs);
		return ret;
	}
	if (o->worktree) {
		free(abs);
		return err_set(e, ERR_USAGE,
			       "source '%s' is not a git work tree", o->source);
	}
	free(abs);
	if (o->ref)
		return err_set(e, ERR_USAGE,
			       "cannot use ref '%s': source '%s' is not a git "
			       "repository",
			       o->ref, o->source);
	if (fs_copy_tree(o->source, o->dest, skip, e) < 0)
		return -1;
	r->kind = xstrdup("dir");
	return 0;
}
