/*
 * webhook: forge deliveries verified, parsed and matched (webhook.h).
 */
#include <ctype.h>
#include <limits.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "fs.h"
#include "pipeline.h"
#include "store.h"
#include "strvec.h"
#include "trigger.h"
#include "webhook.h"
#include "xalloc.h"
#include "banned.h"

#define SECRET_MAX 4096
#define JSON_DEPTH 64
#define DELIVERY_KEEP_MS (30LL * 24 * 3600 * 1000)
#define GITHUB_MAX_COMMITS 2048
#define SUMMARY_MAX 1024 /* CodePipeline's triggerDetail */

enum wh_kind { EV_IGNORED, EV_PING, EV_PUSH, EV_PR };

/* What a delivery says, whatever the forge. */
struct wh_event {
	enum wh_kind kind;
	char *event; /* the event header's value */
	const char *repo; /* full name */
	/* push */
	bool tag;
	char *name; /* branch or tag; a pull request's head branch */
	const char *ref; /* full ref pushed */
	const char *sha; /* commit to build */
	bool deleted;
	struct strvec files;
	bool files_known;
	const char *message; /* head commit message, or NULL */
	const char *who;
	/* pull request */
	unsigned pr_event; /* PL_EVENT_*, 0: an action not acted on */
	const char *action;
	long number;
	const char *base; /* destination branch */
	bool fork;
	const char *head_repo; /* the fork's name, when known */
};

static const char *header(const struct http_header *h, size_t nh,
			  const char *name)
{
	for (size_t i = 0; i < nh; i++)
		if (h[i].name && !strcasecmp(h[i].name, name))
			return h[i].value ? h[i].value : "";
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the response ------------------------------------------------------ */

static void respond(struct wh_outcome *out, int status, json_object *o)
{
	out->status = status;
	free(out->body);
	out->body = xstrdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void respond_error(struct wh_outcome *out, int status, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	if (out->delivery)
		json_object_object_add(o, "delivery",
				       json_object_new_string(out->delivery));
	respond(out, status, o);
}

/* ---- signatures --------------------------------------------------------- */

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly 64 hex digits to 32 bytes. */
static bool hex32(const char *s, unsigned char out[32])
{
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 32; i++) {
		int hi = unhex(s[2 * i]), lo = unhex(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* The secret of a pipeline: its file's content without trailing
 * whitespace; NULL when it has none, or it is empty or unreadable. */
static char *read_secret(const struct pipeline *pl, size_t *len)
{
	struct sw_err e = SW_ERR_INIT;
	char *data = NULL;
	size_t n = 0;

	if (!pl->webhook_secret_file ||
	    fs_read_file(pl->webhook_secret_file, SECRET_MAX, &data, &n, &e) <
		    0) {
		free(data);
		return NULL;
	}
	while (n && isspace((unsigned char)data[n - 1]))
		data[--n] = '\0';
	if (!n || memchr(data, '\0', n)) {
		free(data);
		return NULL;
	}
	*len = n;
	return data;
}

static bool hmac_ok(const char *secret, size_t slen, const char *data,
		    size_t len, const unsigned char want[32])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	if (!HMAC(EVP_sha256(), secret, (int)slen, (const unsigned char *)data,
		  len, mac, &maclen) ||
	    maclen != 32)
		return false;
	return CRYPTO_memcmp(mac, want, 32) == 0;
}

/* GitLab sends the secret itself: compare digests, so that neither the
 * length nor a prefix leaks through the time taken. */
static bool token_ok(const char *secret, size_t slen, const char *token)
{
	unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)secret, slen, a);
	SHA256((const unsigned char *)token, strlen(token), b);
	return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/* ---- the payload -------------------------------------------------------- */

/* url-decode the payload= field of a form body; NULL when absent. */
static char *form_payload(const char *body, size_t len, size_t *outlen)
{
	const char *p = body, *end = body + len;
	struct buf b = BUF_INIT;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp ? amp : end;

		if (fe - p >= 8 && !memcmp(p, "payload=", 8)) {
			for (p += 8; p < fe; p++) {
				int hi, lo;

				if (*p == '+') {
					buf_addch(&b, ' ');
				} else if (*p == '%' && fe - p >= 3 &&
					   (hi = unhex(p[1])) >= 0 &&
					   (lo = unhex(p[2])) >= 0) {
					buf_addch(&b, hi << 4 | lo);
					p += 2;
				} else {
					buf_addch(&b, *p);
				}
			}
			*outlen = b.len;
			return buf_detach(&b);
		}
		p = fe + 1;
	}
	buf_release(&b);
	return NULL;
}

static json_object *parse_json(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	json_object *o;
	size_t off;

	if (!tok || len > (size_t)INT_MAX) {
		json_tokener_free(tok);
		return NULL;
	}
	o = json_tokener_parse_ex(tok, s, (int)len);
	off = json_tokener_get_parse_end(tok);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (; off < len; off++)
			if (!isspace((unsigned char)s[off])) {
				json_object_put(o);
				o = NULL;
				break;
			}
	} else {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

/* The value at a dotted path, or NULL. */
static json_object *jget(json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key) ||
		    !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + !!dot;
	}
	return o;
}

/* A string without a NUL inside, or NULL. */
static const char *jstr(json_object *o, const char *path)
{
	json_object *v = jget(o, path);
	const char *str;

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	str = json_object_get_string(v);
	return strlen(str) == (size_t)json_object_get_string_len(v) ? str
								    : NULL;
}

static bool jint(json_object *o, const char *path, long long *out)
{
	json_object *v = jget(o, path);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static bool jbool(json_object *o, const char *path)
{
	json_object *v = jget(o, path);

	return v && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

/* A commit id: 40 or 64 lowercase hex digits. */
static bool sha_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n != 40 && n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool all_zero(const char *s)
{
	return s && *s && strspn(s, "0") == strlen(s);
}

/* A branch or tag name as git check-ref-format allows, roughly, and
 * nothing a shell or a path could take as more. */
static bool refname_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255 || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' ||
	    s[n - 1] == '.' || strstr(s, "..") || strstr(s, "//") ||
	    strstr(s, "@{") || (n >= 5 && !strcmp(s + n - 5, ".lock")))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f ||
		    strchr(" ~^:?*[\\", *s))
			return false;
	return true;
}

/* Files of commits[] (added, modified, removed). */
static void commit_files(json_object *commits, struct strvec *files)
{
	size_t n = json_object_array_length(commits);
	static const char *const lists[] = { "added", "modified", "removed" };

	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(commits, i);

		for (size_t l = 0; l < 3; l++) {
			json_object *a = jget(c, lists[l]);
			size_t m;

			if (!a || !json_object_is_type(a, json_type_array))
				continue;
			m = json_object_array_length(a);
			for (size_t k = 0; k < m; k++) {
				json_object *f =
					json_object_array_get_idx(a, k);

				if (json_object_is_type(f, json_type_string))
					strvec_push(files,
						    json_object_get_string(f));
			}
		}
	}
	trigger_files_unique(files);
}

/*
 * A push, the same enough on every forge: ref, after (GitLab:
 * checkout_sha first), commits[]. total: how many commits were pushed
 * when the forge says (GitLab, Gitea), else -1.
 */
static const char *parse_push(json_object *o, struct wh_event *ev)
{
	json_object *commits = jget(o, "commits");
	long long total = -1;
	const char *sha;

	ev->kind = EV_PUSH;
	ev->ref = jstr(o, "ref");
	if (!ev->ref)
		return "push payload has no 'ref'";
	if (!strncmp(ev->ref, "refs/heads/", 11)) {
		ev->name = xstrdup(ev->ref + 11);
	} else if (!strncmp(ev->ref, "refs/tags/", 10)) {
		ev->tag = true;
		ev->name = xstrdup(ev->ref + 10);
	} else {
		return "push payload's 'ref' is not a branch or a tag";
	}
	if (!refname_ok(ev->name))
		return "push payload's 'ref' is not a valid ref name";
	sha = jstr(o, "checkout_sha");
	if (!sha)
		sha = jstr(o, "after");
	ev->deleted = jbool(o, "deleted") || !sha || all_zero(jstr(o, "after"));
	if (!ev->deleted && !sha_ok(sha))
		return "push payload's 'after' is not a commit id";
	ev->sha = sha;
	if (!jint(o, "total_commits_count", &total))
		jint(o, "total_commits", &total);
	if (commits && json_object_is_type(commits, json_type_array)) {
		size_t n = json_object_array_length(commits);

		commit_files(commits, &ev->files);
		ev->files_known = n > 0 && n < GITHUB_MAX_COMMITS &&
				  (total < 0 || (size_t)total <= n);
	}
	ev->message = jstr(o, "head_commit.message");
	if (!ev->message && commits &&
	    json_object_is_type(commits, json_type_array) &&
	    json_object_array_length(commits))
		ev->message = jstr(
			json_object_array_get_idx(
				commits, json_object_array_length(commits) - 1),
			"message");
	ev->who = jstr(o, "sender.login");
	if (!ev->who)
		ev->who = jstr(o, "user_username");
	if (!ev->who)
		ev->who = jstr(o, "pusher.name");
	return NULL;
}

/* GitHub's and Gitea's pull_request. */
static const char *parse_pr_hub(json_object *o, struct wh_event *ev, bool gitea)
{
	long long n = 0, hid = 0, bid = 0;
	json_object *head_repo;
	const char *a;

	ev->kind = EV_PR;
	a = ev->action = jstr(o, "action");
	if (!a)
		return "pull_request payload has no 'action'";
	if (!strcmp(a, "opened") || !strcmp(a, "reopened"))
		ev->pr_event = PL_EVENT_OPEN;
	else if (!strcmp(a, gitea ? "synchronized" : "synchronize") ||
		 !strcmp(a, "synchronize") || !strcmp(a, "synchronized"))
		ev->pr_event = PL_EVENT_UPDATED;
	else if (!strcmp(a, "closed"))
		ev->pr_event = PL_EVENT_CLOSED;
	if (!jint(o, "number", &n) && !jint(o, "pull_request.number", &n))
		return "pull_request payload has no 'number'";
	ev->number = (long)n;
	ev->sha = jstr(o, "pull_request.head.sha");
	ev->base = jstr(o, "pull_request.base.ref");
	if (!sha_ok(ev->sha) || !ev->base || !refname_ok(ev->base))
		return "pull_request payload has no valid head.sha and "
		       "base.ref";
	if (jstr(o, "pull_request.head.ref"))
		ev->name = xstrdup(jstr(o, "pull_request.head.ref"));
	head_repo = jget(o, "pull_request.head.repo");
	ev->head_repo = jstr(o, "pull_request.head.repo.full_name");
	if (gitea && jint(o, "pull_request.head.repo_id", &hid) &&
	    jint(o, "pull_request.base.repo_id", &bid))
		ev->fork = hid != bid;
	else if (!head_repo ||
		 !json_object_is_type(head_repo, json_type_object))
		ev->fork = true; /* the fork was deleted */
	else if (jint(o, "pull_request.head.repo.id", &hid) &&
		 jint(o, "pull_request.base.repo.id", &bid))
		ev->fork = hid != bid;
	else
		ev->fork = !ev->head_repo || !ev->repo ||
			   strcasecmp(ev->head_repo, ev->repo);
	ev->who = jstr(o, "sender.login");
	return NULL;
}

/* GitLab's merge request. */
static const char *parse_mr(json_object *o, struct wh_event *ev)
{
	long long iid = 0, sp = 0, tp = 0;
	const char *a;

	ev->kind = EV_PR;
	a = ev->action = jstr(o, "object_attributes.action");
	if (!a)
		return "merge request payload has no "
		       "'object_attributes.action'";
	if (!strcmp(a, "open") || !strcmp(a, "reopen"))
		ev->pr_event = PL_EVENT_OPEN;
	else if (!strcmp(a, "update") && jget(o, "object_attributes.oldrev"))
		ev->pr_event = PL_EVENT_UPDATED;
	else if (!strcmp(a, "close") || !strcmp(a, "merge"))
		ev->pr_event = PL_EVENT_CLOSED;
	if (!jint(o, "object_attributes.iid", &iid))
		return "merge request payload has no 'object_attributes.iid'";
	ev->number = (long)iid;
	ev->sha = jstr(o, "object_attributes.last_commit.id");
	ev->base = jstr(o, "object_attributes.target_branch");
	if (!sha_ok(ev->sha) || !ev->base || !refname_ok(ev->base))
		return "merge request payload has no valid last_commit.id and "
		       "target_branch";
	if (jstr(o, "object_attributes.source_branch"))
		ev->name = xstrdup(jstr(o, "object_attributes.source_branch"));
	ev->message = jstr(o, "object_attributes.last_commit.message");
	ev->head_repo = jstr(o, "object_attributes.source.path_with_namespace");
	if (jint(o, "object_attributes.source_project_id", &sp) &&
	    jint(o, "object_attributes.target_project_id", &tp))
		ev->fork = sp != tp;
	else
		ev->fork = true;
	ev->who = jstr(o, "user.username");
	return NULL;
}

/* Fill ev from the payload; a message when it is not the shape of its
 * event (400). */
static const char *parse_event(const char *forge, json_object *o,
			       struct wh_event *ev)
{
	const char *e = ev->event;

	ev->repo = !strcmp(forge, "gitlab")
			   ? jstr(o, "project.path_with_namespace")
			   : jstr(o, "repository.full_name");
	if (!strcmp(forge, "gitlab")) {
		const char *kind = jstr(o, "object_kind");

		if (!strcmp(e, "Push Hook") || !strcmp(e, "Tag Push Hook")) {
			if (!kind ||
			    strcmp(kind, !strcmp(e, "Push Hook") ? "push"
								 : "tag_push"))
				return "object_kind does not match "
				       "X-Gitlab-Event";
			if (!ev->repo)
				return "payload has no "
				       "'project.path_with_namespace'";
			return parse_push(o, ev);
		}
		if (!strcmp(e, "Merge Request Hook")) {
			if (!kind || strcmp(kind, "merge_request"))
				return "object_kind does not match "
				       "X-Gitlab-Event";
			if (!ev->repo)
				return "payload has no "
				       "'project.path_with_namespace'";
			return parse_mr(o, ev);
		}
		return NULL;
	}
	if (!strcmp(e, "ping")) {
		ev->kind = EV_PING;
		return NULL;
	}
	if (!strcmp(e, "push")) {
		if (!ev->repo)
			return "payload has no 'repository.full_name'";
		return parse_push(o, ev);
	}
	if (!strcmp(e, "pull_request")) {
		if (!ev->repo)
			return "payload has no 'repository.full_name'";
		return parse_pr_hub(o, ev, !strcmp(forge, "gitea"));
	}
	return NULL;
}

/* Drone's and Woodpecker's marker: [ci skip], [skip ci], any case. */
static bool skip_marker(const char *msg)
{
	for (const char *p = msg ? strchr(msg, '[') : NULL; p;
	     p = strchr(p + 1, '[')) {
		const char *q = p + 1;
		const char *first = !strncasecmp(q, "ci", 2)	 ? "ci"
				    : !strncasecmp(q, "skip", 4) ? "skip"
								 : NULL;

		if (!first)
			continue;
		q += strlen(first);
		while (*q == ' ')
			q++;
		if (!strncasecmp(q, !strcmp(first, "ci") ? "skip" : "ci",
				 !strcmp(first, "ci") ? 4 : 2) &&
		    q[!strcmp(first, "ci") ? 4 : 2] == ']')
			return true;
	}
	return false;
}

/* ---- matching ----------------------------------------------------------- */

static bool name_is(const char *want, const char *repo)
{
	return want && *want && !strcasecmp(want, repo);
}

/* Does source action a of pl name the repository? */
static bool action_names(const struct pipeline *pl, const struct pl_action *a,
			 const char *repo)
{
	const char *last = strrchr(repo, '/');
	const char *v;

	if (a->binding >= 0 && (size_t)a->binding < pl->nr_sources &&
	    name_is(pl->sources[a->binding].name, repo))
		return true;
	if (name_is(pl_action_config(a, "FullRepositoryId"), repo))
		return true;
	v = pl_action_config(a, "RepositoryName");
	if (name_is(v, repo) || (v && last && name_is(v, last + 1)))
		return true;
	if (pl_action_config(a, "Owner") && pl_action_config(a, "Repo")) {
		char *full = xasprintf("%s/%s", pl_action_config(a, "Owner"),
				       pl_action_config(a, "Repo"));
		bool r = name_is(full, repo);

		free(full);
		return r;
	}
	return false;
}

static const struct pl_action *source_for(const struct pipeline *pl,
					  const char *repo, size_t *from)
{
	if (!pl->nr_stages)
		return NULL;
	for (size_t i = *from; i < pl->stages[0].nr_actions; i++) {
		const struct pl_action *a = &pl->stages[0].actions[i];

		if (a->category == PL_SOURCE && action_names(pl, a, repo)) {
			*from = i + 1;
			return a;
		}
	}
	return NULL;
}

static void add_start(struct wh_outcome *out, size_t idx, const char *forge,
		      const struct wh_event *ev, const struct pl_action *a)
{
	struct wh_start *s;

	out->starts = xrealloc(out->starts,
			       (out->nr_starts + 1) * sizeof(*out->starts));
	s = &out->starts[out->nr_starts++];
	memset(s, 0, sizeof(*s));
	s->pipeline = idx;
	s->revision = xstrdup(ev->sha);
	if (ev->kind == EV_PUSH)
		s->ref = xstrdup(ev->ref);
	else if (!strcmp(forge, "gitlab"))
		s->ref = xasprintf("refs/merge-requests/%ld/head", ev->number);
	else
		s->ref = xasprintf("refs/pull/%ld/head", ev->number);
	if (ev->kind == EV_PUSH)
		s->summary = xasprintf("%s push to %s %s%s%s (delivery %s)",
				       forge, ev->tag ? "tag" : "branch",
				       ev->name, ev->who ? " by " : "",
				       ev->who ? ev->who : "", out->delivery);
	else
		s->summary = xasprintf(
			"%s pull request #%ld %s into %s%s%s (delivery %s)",
			forge, ev->number, ev->action, ev->base,
			ev->who ? " by " : "", ev->who ? ev->who : "",
			out->delivery);
	/* names from the payload end up in log lines: one line, short */
	for (char *p = s->summary; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (strlen(s->summary) > SUMMARY_MAX)
		s->summary[SUMMARY_MAX] = '\0';
	s->source_action = xstrdup(a->name);
	s->trigger_type = xstrdup("WebhookV2");
}

static void reason(json_object *reasons, const struct pipeline *pl,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reason(json_object *reasons, const struct pipeline *pl,
		   const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	buf_addf(&b, "pipeline '%s': ", pl->name ? pl->name : "?");
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	json_object_array_add(reasons, json_object_new_string(buf_cstr(&b)));
	buf_release(&b);
}

static void match(const char *forge, const struct wh_event *ev,
		  struct pipeline *const *pls, size_t npl, const bool *verified,
		  const bool *refused, struct wh_outcome *out,
		  json_object *reasons)
{
	for (size_t i = 0; i < npl; i++) {
		const struct pipeline *pl = pls[i];
		const struct pl_action *a;
		size_t from = 0;
		bool named = false;

		while ((a = source_for(pl, ev->repo, &from))) {
			struct trig_event te = TRIG_EVENT_INIT;
			struct buf why = BUF_INIT;

			named = true;
			if (!verified[i] || refused[i])
				break;
			te.kind = ev->kind == EV_PR ? TRIG_PULL_REQUEST
				  : ev->tag	    ? TRIG_TAG
						    : TRIG_BRANCH;
			te.name = ev->name;
			te.base = ev->base;
			te.pr_event = ev->pr_event;
			te.files = &ev->files;
			te.files_known = ev->kind == EV_PUSH && ev->files_known;
			if (trigger_matches(pl, a, &te, &why)) {
				add_start(out, i, forge, ev, a);
				if (why.len)
					reason(reasons, pl, "%s", why.ptr);
				buf_release(&why);
				/* one execution runs all its sources */
				break;
			}
			reason(reasons, pl, "%s", why.ptr);
			buf_release(&why);
		}
		if (named && !verified[i])
			reason(reasons, pl,
			       "it watches %s but %s; set "
			       "slipway.webhook-secret-file",
			       ev->repo,
			       pl->webhook_secret_file
				       ? "its secret did not verify this "
					 "delivery"
				       : "it has no webhook secret");
	}
}

/* Why a verified pull request or push starts nothing, before matching;
 * NULL to go on. */
static const char *refuse_early(const struct wh_event *ev)
{
	if (ev->kind == EV_PUSH && ev->deleted)
		return "the ref was deleted: nothing to build";
	if (ev->kind == EV_PUSH && skip_marker(ev->message))
		return "the head commit asks to skip CI ([skip ci])";
	if (ev->kind == EV_PR && !ev->pr_event)
		return "pull request action is not one that starts a pipeline "
		       "(opened, reopened, synchronize, closed)";
	return NULL;
}

/* ---- the handler -------------------------------------------------------- */

static const char *event_header(const char *forge, const struct http_header *h,
				size_t nh)
{
	const char *v;

	if (!strcmp(forge, "gitlab"))
		return header(h, nh, "X-Gitlab-Event");
	if (!strcmp(forge, "gitea")) {
		if ((v = header(h, nh, "X-Forgejo-Event")) ||
		    (v = header(h, nh, "X-Gitea-Event")))
			return v;
		return header(h, nh, "X-Gogs-Event");
	}
	return header(h, nh, "X-GitHub-Event");
}

static const char *delivery_header(const char *forge,
				   const struct http_header *h, size_t nh)
{
	const char *v;

	if (!strcmp(forge, "gitlab")) {
		if ((v = header(h, nh, "Idempotency-Key")) && *v)
			return v;
		return header(h, nh, "X-Gitlab-Event-UUID");
	}
	if (!strcmp(forge, "gitea")) {
		if ((v = header(h, nh, "X-Forgejo-Delivery")) && *v)
			return v;
		if ((v = header(h, nh, "X-Gitea-Delivery")) && *v)
			return v;
		return header(h, nh, "X-Gogs-Delivery");
	}
	return header(h, nh, "X-GitHub-Delivery");
}

/* A delivery id fit for logs and the store; else NULL. */
static bool delivery_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!n || n > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
			return false;
	return true;
}

/*
 * Check the signature against each pipeline's secret; verified[i] is
 * set for those it matches. Returns a message for 401, or NULL.
 */
static const char *verify(const char *forge, const struct http_header *h,
			  size_t nh, const char *body, size_t len,
			  const char *json, size_t jlen,
			  struct pipeline *const *pls, size_t npl,
			  bool *verified)
{
	unsigned char want[32];
	const char *sig = NULL;
	bool any_secret = false, any = false;

	if (!strcmp(forge, "github")) {
		sig = header(h, nh, "X-Hub-Signature-256");
		if (!sig || !*sig)
			return "no X-Hub-Signature-256 header: set the "
			       "webhook's secret";
		if (strncmp(sig, "sha256=", 7) || !hex32(sig + 7, want))
			return "X-Hub-Signature-256 is not sha256= and 64 hex "
			       "digits";
	} else if (!strcmp(forge, "gitea")) {
		sig = header(h, nh, "X-Forgejo-Signature");
		if (!sig || !*sig)
			sig = header(h, nh, "X-Gitea-Signature");
		if (!sig || !*sig)
			return "no X-Gitea-Signature header: set the webhook's "
			       "secret";
		if (!hex32(sig, want))
			return "X-Gitea-Signature is not 64 hex digits";
	} else {
		sig = header(h, nh, "X-Gitlab-Token");
		if (!sig || !*sig)
			return "no X-Gitlab-Token header: set the webhook's "
			       "secret token";
	}
	for (size_t i = 0; i < npl; i++) {
		size_t slen = 0;
		char *secret = read_secret(pls[i], &slen);

		verified[i] = false;
		if (!secret)
			continue;
		any_secret = true;
		if (!strcmp(forge, "github"))
			verified[i] = hmac_ok(secret, slen, body, len, want);
		else if (!strcmp(forge, "gitea"))
			verified[i] = hmac_ok(secret, slen, json, jlen, want);
		else
			verified[i] = token_ok(secret, slen, sig);
		any |= verified[i];
		OPENSSL_cleanse(secret, slen);
		free(secret);
	}
	if (!any_secret)
		return "no pipeline has a webhook secret "
		       "(slipway.webhook-secret-file): deliveries are refused";
	if (!any)
		return !strcmp(forge, "gitlab")
			       ? "X-Gitlab-Token matches no pipeline's webhook "
				 "secret"
			       : "the signature matches no pipeline's webhook "
				 "secret";
	return NULL;
}

static bool form_body(const struct http_header *h, size_t nh)
{
	const char *ct = header(h, nh, "Content-Type");

	return ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
}

int webhook_handle(const char *forge, const struct http_header *h, size_t nh,
		   const char *body, size_t len, struct pipeline *const *pls,
		   size_t npl, const char *state_dir, struct wh_outcome *out)
{
	struct wh_event ev = { .kind = EV_IGNORED };
	bool *verified = xcalloc(npl + 1, sizeof(*verified));
	bool *refused = xcalloc(npl + 1, sizeof(*refused));
	char *form = NULL, *db = NULL, hex[65];
	const char *json = body, *msg, *id, *evh;
	size_t jlen = len;
	json_object *o = NULL, *resp, *reasons = NULL, *started;
	struct sw_err e = SW_ERR_INIT;
	struct store *s = NULL;
	int first = 0, ret = 0;

	memset(out, 0, sizeof(*out));
	strvec_init(&ev.files);
	if (!forge || (strcmp(forge, "github") && strcmp(forge, "gitlab") &&
		       strcmp(forge, "gitea"))) {
		respond_error(out, 404,
			      "unknown forge: use github, gitlab or "
			      "gitea");
		goto out;
	}
	if (form_body(h, nh)) {
		if (!strcmp(forge, "gitlab") ||
		    !(form = form_payload(body, len, &jlen))) {
			/* verify first all the same: 400 only when signed */
			json = NULL;
			jlen = 0;
		} else {
			json = form;
		}
	}
	if ((msg = verify(forge, h, nh, body, len, json ? json : "", jlen, pls,
			  npl, verified))) {
		respond_error(out, 401, msg);
		goto out;
	}
	/* from here on the sender knows a secret */
	id = delivery_header(forge, h, nh);
	if (id && *id && !delivery_ok(id)) {
		respond_error(out, 400, "the delivery id is not a plain id");
		goto out;
	}
	if (!id || !*id) {
		unsigned char d[SHA256_DIGEST_LENGTH];

		SHA256((const unsigned char *)body, len, d);
		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", d[i]);
		id = hex;
	}
	out->delivery = xstrdup(id);
	evh = event_header(forge, h, nh);
	if (!evh || !*evh) {
		respond_error(out, 400,
			      "no event header (X-GitHub-Event, "
			      "X-Gitlab-Event, X-Gitea-Event)");
		goto out;
	}
	ev.event = xstrdup(evh);
	if (!json) {
		respond_error(out, 400,
			      "a form body needs a payload= field "
			      "(GitLab sends JSON only)");
		goto out;
	}
	if (!(o = parse_json(json, jlen))) {
		respond_error(out, 400, "the payload is not a JSON object");
		goto out;
	}
	if ((msg = parse_event(forge, o, &ev))) {
		respond_error(out, 400, msg);
		goto out;
	}
	db = store_locate(state_dir);
	if (store_open(&s, db, &e) < 0 ||
	    store_delivery_record(s, forge, id, now_ms(), &first, &e) < 0) {
		respond_error(out, 500, e.msg);
		ret = -1;
		goto out;
	}
	if (!first) {
		resp = json_object_new_object();
		json_object_object_add(resp, "delivery",
				       json_object_new_string(id));
		json_object_object_add(resp, "duplicate",
				       json_object_new_boolean(1));
		respond(out, 200, resp);
		goto out;
	}
	if (store_delivery_prune(s, now_ms() - DELIVERY_KEEP_MS, &e) < 0)
		err_clear(&e); /* only bookkeeping */

	resp = json_object_new_object();
	json_object_object_add(resp, "delivery", json_object_new_string(id));
	json_object_object_add(resp, "event", json_object_new_string(evh));
	reasons = json_object_new_array();
	if (ev.kind == EV_PING) {
		json_object_object_add(resp, "ping",
				       json_object_new_string("ok"));
		json_object_put(reasons);
		respond(out, 200, resp);
		goto out;
	}
	if (ev.kind == EV_IGNORED) {
		char *r = xasprintf("event '%s' is not one slipway acts on "
				    "(push, pull request)",
				    evh);

		json_object_array_add(reasons, json_object_new_string(r));
		free(r);
	} else if ((msg = refuse_early(&ev))) {
		json_object_array_add(reasons, json_object_new_string(msg));
	} else {
		bool fork_refused = false;

		if (ev.kind == EV_PR && ev.fork)
			for (size_t i = 0; i < npl; i++)
				if (verified[i] &&
				    !pls[i]->allow_fork_pull_requests) {
					reason(reasons, pls[i],
					       "pull request #%ld comes from a "
					       "fork (%s): set "
					       "slipway.allow-fork-pull-"
					       "requests"
					       ": true to build it",
					       ev.number,
					       ev.head_repo ? ev.head_repo
							    : "deleted");
					refused[i] = true;
					fork_refused = true;
				}
		match(forge, &ev, pls, npl, verified, refused, out, reasons);
		if (!out->nr_starts && !json_object_array_length(reasons) &&
		    !fork_refused) {
			char *r = xasprintf(
				"no pipeline watches repository '%s'", ev.repo);

			json_object_array_add(reasons,
					      json_object_new_string(r));
			free(r);
		}
	}
	started = json_object_new_array();
	for (size_t i = 0; i < out->nr_starts; i++) {
		json_object *st = json_object_new_object();
		const struct wh_start *w = &out->starts[i];

		json_object_object_add(
			st, "pipeline",
			json_object_new_string(pls[w->pipeline]->name));
		json_object_object_add(st, "revision",
				       json_object_new_string(w->revision));
		json_object_object_add(st, "ref",
				       json_object_new_string(w->ref));
		json_object_array_add(started, st);
	}
	json_object_object_add(resp, "started", started);
	json_object_object_add(resp, "reasons", reasons);
	respond(out, 202, resp);
out:
	json_object_put(o);
	store_close(s);
	free(db);
	free(form);
	free(verified);
	free(refused);
	free(ev.event);
	free(ev.name);
	strvec_release(&ev.files);
	return ret;
}

void wh_start_release(struct wh_start *s)
{
	if (!s)
		return;
	free(s->revision);
	free(s->ref);
	free(s->summary);
	free(s->source_action);
	free(s->trigger_type);
	memset(s, 0, sizeof(*s));
}

void wh_outcome_release(struct wh_outcome *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nr_starts; i++)
		wh_start_release(&o->starts[i]);
	free(o->starts);
	free(o->body);
	free(o->delivery);
	memset(o, 0, sizeof(*o));
}
