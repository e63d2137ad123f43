#include "webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "fs.h"
#include "pipeline.h"
#include "store.h"
#include "trigger.h"
#include "xalloc.h"
#include "banned.h"

#define SECRET "s3cret-for-tests"
#define SHA1 "1111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222"

/* A CodeStarSourceConnection source acme/web on main, then a command;
 * extra goes under pipeline:, binding under slipway:. */
#define PIPELINE(name, extra, binding)                                         \
	"pipeline:\n"                                                          \
	"  name: " name "\n"                                                   \
	"  stages:\n"                                                          \
	"    - name: S\n"                                                      \
	"      actions:\n"                                                     \
	"        - name: Src\n"                                                \
	"          actionTypeId: {category: Source, owner: AWS, provider: "    \
	"CodeStarSourceConnection, version: '1'}\n"                            \
	"          configuration: {ConnectionArn: x, FullRepositoryId: "       \
	"acme/web, BranchName: main}\n"                                        \
	"          outputArtifacts: [{name: A}]\n"                             \
	"    - name: T\n"                                                      \
	"      actions:\n"                                                     \
	"        - name: C\n"                                                  \
	"          actionTypeId: {category: Invoke, owner: Custom, provider: " \
	"Command, version: '1'}\n"                                             \
	"          configuration: {Command: 'true'}\n"                         \
	"          inputArtifacts: [{name: A}]\n" extra "slipway:\n"           \
	"  sources: {acme/web: "                                               \
	"'https://git.example.com/acme/web.git'}\n" binding

#define SECRET_BINDING "  webhook-secret-file: secret\n"

struct fx {
	char dir[64];
	char *state;
	struct pipeline pl[4];
	struct pipeline *pls[4];
	size_t npl;
};

static struct fx *fx_new(void)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct sw_err e = SW_ERR_INIT;
	char *p;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_webhook.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	p = fs_join(f->dir, "secret");
	assert_int_equal(
		fs_write_atomic(p, SECRET "\n", strlen(SECRET) + 1, 0600, &e),
		0);
	free(p);
	f->state = fs_join(f->dir, "state");
	assert_int_equal(fs_mkdir_p(f->state, 0755, &e), 0);
	return f;
}

static void fx_add(struct fx *f, const char *text)
{
	struct sw_err e = SW_ERR_INIT;
	struct pipeline *pl = &f->pl[f->npl];

	if (pipeline_parse("p.yml", f->dir, text, strlen(text), pl, &e) < 0)
		fail_msg("pipeline: %s", e.msg);
	f->pls[f->npl++] = pl;
}

static void fx_free(struct fx *f)
{
	struct sw_err e = SW_ERR_INIT;

	for (size_t i = 0; i < f->npl; i++)
		pipeline_release(&f->pl[i]);
	fs_remove_tree(f->dir, &e);
	free(f->state);
	free(f);
}

static void hmac_hex(const char *secret, const char *body, size_t len,
		     char out[65])
{
	unsigned char mac[32];
	unsigned int n = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	     (const unsigned char *)body, len, mac, &n);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* A GitHub delivery signed with secret (NULL: unsigned). */
static int github(struct fx *f, const char *event, const char *id,
		  const char *secret, const char *body, struct wh_outcome *o)
{
	char hex[65], sig[80];
	struct http_header h[4] = { { "X-GitHub-Event", event },
				    { "X-GitHub-Delivery", id },
				    { "Content-Type", "application/json" } };
	size_t nh = 3;

	if (secret) {
		hmac_hex(secret, body, strlen(body), hex);
		snprintf(sig, sizeof(sig), "sha256=%s", hex);
		h[nh].name = "X-Hub-Signature-256";
		h[nh++].value = sig;
	}
	return webhook_handle("github", h, nh, body, strlen(body), f->pls,
			      f->npl, f->state, o);
}

static char *push_body(const char *ref, const char *after, const char *files)
{
	return xasprintf(
		"{\"ref\":\"%s\",\"before\":\"%s\",\"after\":\"%s\","
		"\"repository\":{\"id\":1,\"full_name\":\"acme/web\"},"
		"\"sender\":{\"login\":\"ann\"},"
		"\"head_commit\":{\"id\":\"%s\",\"message\":\"change\"},"
		"\"commits\":[{\"id\":\"%s\",\"message\":\"change\","
		"\"added\":[%s],\"modified\":[],\"removed\":[]}]}",
		ref, SHA1, after, after, after, files);
}

static void test_webhook__github_test_vector(void **state)
{
	/* GitHub's documented example: the signature verifies (so the body
	 * is parsed, and is not JSON: 400); one bit off it does not. */
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586"
			   "c22c46f4379c8b043e17";
	struct http_header h[] = { { "x-github-event", "push" },
				   { "X-Hub-Signature-256", good } };
	char *p = fs_join(f->dir, "secret");

	(void)state;
	fs_write_atomic(p, "It's a Secret to Everybody", 26, 0600, &e);
	free(p);
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	assert_int_equal(webhook_handle("github", h, 2, "Hello, World!", 13,
					f->pls, f->npl, f->state, &o),
			 0);
	assert_int_equal(o.status, 400);
	assert_non_null(strstr(o.body, "not a JSON object"));
	wh_outcome_release(&o);
	h[1].value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c"
		     "46f4379c8b043e16";
	webhook_handle("github", h, 2, "Hello, World!", 13, f->pls, f->npl,
		       f->state, &o);
	assert_int_equal(o.status, 401);
	assert_int_equal(o.nr_starts, 0);
	wh_outcome_release(&o);
	fx_free(f);
}

static void test_webhook__github_push_starts(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *body = push_body("refs/heads/main", SHA2, "\"a.c\"");

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	assert_int_equal(github(f, "push", "d-1", SECRET, body, &o), 0);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	assert_int_equal(o.starts[0].pipeline, 0);
	assert_string_equal(o.starts[0].revision, SHA2);
	assert_string_equal(o.starts[0].ref, "refs/heads/main");
	assert_string_equal(o.starts[0].source_action, "Src");
	assert_string_equal(o.starts[0].trigger_type, "WebhookV2");
	assert_non_null(strstr(o.starts[0].summary, "delivery d-1"));
	assert_string_equal(o.delivery, "d-1");
	assert_non_null(strstr(o.body, "\"started\":[{\"pipeline\":\"web\""));
	wh_outcome_release(&o);
	free(body);
	fx_free(f);
}

static void test_webhook__github_push_other_branch(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *body = push_body("refs/heads/dev", SHA2, "");

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	github(f, "push", "d-2", SECRET, body, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "branch 'dev' is not the BranchName "
				       "'main'"));
	wh_outcome_release(&o);
	free(body);
	fx_free(f);
}

static void test_webhook__signatures_refused(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *body = push_body("refs/heads/main", SHA2, "");
	struct http_header h[] = { { "X-GitHub-Event", "push" },
				   { "X-Hub-Signature", "sha1=abcd" } };

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	github(f, "push", "d-3", NULL, body, &o);
	assert_int_equal(o.status, 401);
	assert_non_null(strstr(o.body, "no X-Hub-Signature-256"));
	wh_outcome_release(&o);
	github(f, "push", "d-3", "another secret", body, &o);
	assert_int_equal(o.status, 401);
	assert_int_equal(o.nr_starts, 0);
	wh_outcome_release(&o);
	/* the legacy SHA-1 header alone is never enough */
	webhook_handle("github", h, 2, body, strlen(body), f->pls, f->npl,
		       f->state, &o);
	assert_int_equal(o.status, 401);
	wh_outcome_release(&o);
	/* refused deliveries were not recorded: the right one still runs */
	github(f, "push", "d-3", SECRET, body, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	free(body);
	fx_free(f);
}

static void test_webhook__no_secret_never_matches(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *body = push_body("refs/heads/main", SHA2, "");

	(void)state;
	fx_add(f, PIPELINE("web", "", ""));
	github(f, "push", "d-4", SECRET, body, &o);
	assert_int_equal(o.status, 401);
	assert_non_null(strstr(o.body, "no pipeline has a webhook secret"));
	wh_outcome_release(&o);
	/* another pipeline's secret verifies: this one is named, not run */
	fx_add(f, PIPELINE("other", "", SECRET_BINDING));
	free(f->pl[1].stages[0].actions[0].config[1].value);
	f->pl[1].stages[0].actions[0].config[1].value = xstrdup("acme/api");
	free(f->pl[1].sources[0].name);
	f->pl[1].sources[0].name = xstrdup("acme/api");
	github(f, "push", "d-4", SECRET, body, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "pipeline 'web': it watches acme/web "
				       "but it has no webhook secret"));
	wh_outcome_release(&o);
	free(body);
	fx_free(f);
}

static void test_webhook__malformed_json(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	static const char *const bad[] = {
		"{\"ref\": ",
		"[1, 2]",
		"{\"ref\":\"refs/heads/main\"} trailing",
		"{\"ref\":\"refs/heads/main\",\"after\":\"zz\","
		"\"repository\":{\"full_name\":\"acme/web\"}}",
		"{\"ref\":\"refs/heads/../x\",\"after\":\"" SHA2 "\","
		"\"repository\":{\"full_name\":\"acme/web\"}}",
		"{\"ref\":\"refs/heads/main\",\"after\":\"" SHA2 "\"}",
		/* a NUL inside a name would cut it short */
		"{\"ref\":\"refs/heads/ma\\u0000in\",\"after\":\"" SHA2 "\","
		"\"repository\":{\"full_name\":\"acme/web\"}}",
	};
	struct buf deep = BUF_INIT;

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char id[16];

		snprintf(id, sizeof(id), "m-%zu", i);
		github(f, "push", id, SECRET, bad[i], &o);
		if (o.status != 400)
			fail_msg("%s: %d %s", bad[i], o.status, o.body);
		assert_int_equal(o.nr_starts, 0);
		wh_outcome_release(&o);
	}
	/* nesting deeper than the parser's limit */
	for (int i = 0; i < 10000; i++)
		buf_addstr(&deep, "{\"a\":");
	github(f, "push", "m-deep", SECRET, deep.ptr, &o);
	assert_int_equal(o.status, 400);
	wh_outcome_release(&o);
	buf_release(&deep);
	fx_free(f);
}

static void test_webhook__duplicate_delivery(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *body = push_body("refs/heads/main", SHA2, "");

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	github(f, "push", "dup-1", SECRET, body, &o);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	github(f, "push", "dup-1", SECRET, body, &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "\"duplicate\":true"));
	wh_outcome_release(&o);
	/* the same id from another forge is another delivery */
	{
		struct http_header h[] = { { "X-Gitea-Event", "push" },
					   { "X-Gitea-Delivery", "dup-1" },
					   { "X-Gitea-Signature", NULL } };
		char hex[65];

		hmac_hex(SECRET, body, strlen(body), hex);
		h[2].value = hex;
		webhook_handle("gitea", h, 3, body, strlen(body), f->pls,
			       f->npl, f->state, &o);
		assert_int_equal(o.status, 202);
		assert_int_equal(o.nr_starts, 1);
		wh_outcome_release(&o);
	}
	free(body);
	fx_free(f);
}

/* Processes racing with one delivery: exactly one of them starts it. */
static void test_webhook__racing_processes(void **state)
{
	struct fx *f = fx_new();
	char *body = push_body("refs/heads/main", SHA2, "");
	int gate[2], started = 0, dup = 0;
	pid_t pids[6];

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	{
		/* migrate once, so that the race is on the delivery */
		struct wh_outcome o = WH_OUTCOME_INIT;

		github(f, "push", "warm-up", SECRET, body, &o);
		wh_outcome_release(&o);
	}
	assert_int_equal(pipe(gate), 0);
	for (int i = 0; i < 6; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct wh_outcome o = WH_OUTCOME_INIT;
			char c;

			close(gate[1]);
			/* all wait here until the parent closes the pipe */
			if (read(gate[0], &c, 1) != 0)
				_exit(9);
			github(f, "push", "race-1", SECRET, body, &o);
			_exit(o.status == 202 && o.nr_starts == 1 ? 1
			      : o.status == 200			  ? 2
								  : 3);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < 6; i++) {
		int st;

		assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 1)
			started++;
		else if (WEXITSTATUS(st) == 2)
			dup++;
	}
	assert_int_equal(started, 1);
	assert_int_equal(dup, 5);
	free(body);
	fx_free(f);
}

static char *gitlab_mr(const char *action, long src, long dst,
		       const char *oldrev)
{
	return xasprintf(
		"{\"object_kind\":\"merge_request\","
		"\"project\":{\"id\":%ld,\"path_with_namespace\":\"acme/web\"},"
		"\"user\":{\"username\":\"bob\"},"
		"\"object_attributes\":{\"action\":\"%s\",\"iid\":7,"
		"\"source_branch\":\"feature\",\"target_branch\":\"main\","
		"\"source_project_id\":%ld,\"target_project_id\":%ld,"
		"%s\"last_commit\":{\"id\":\"" SHA2 "\",\"message\":\"m\"},"
		"\"source\":{\"path_with_namespace\":\"eve/web\"}}}",
		dst, action, src, dst, oldrev ? oldrev : "");
}

static int gitlab(struct fx *f, const char *event, const char *id,
		  const char *token, const char *body, struct wh_outcome *o)
{
	struct http_header h[] = { { "X-Gitlab-Event", event },
				   { "X-Gitlab-Event-UUID", id },
				   { "X-Gitlab-Token", token } };

	return webhook_handle("gitlab", h, token ? 3 : 2, body, strlen(body),
			      f->pls, f->npl, f->state, o);
}

#define PR_TRIGGER                                                             \
	"  triggers:\n"                                                        \
	"    - providerType: CodeStarSourceConnection\n"                       \
	"      gitConfiguration:\n"                                            \
	"        sourceActionName: Src\n"                                      \
	"        pullRequest: [{events: [OPEN, UPDATED], branches: "           \
	"{includes: [main]}}]\n"

static void test_webhook__gitlab(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *push = xasprintf(
		"{\"object_kind\":\"push\",\"ref\":\"refs/heads/main\","
		"\"before\":\"" SHA1 "\",\"after\":\"" SHA2 "\","
		"\"checkout_sha\":\"" SHA2 "\",\"user_username\":\"bob\","
		"\"project\":{\"id\":3,\"path_with_namespace\":\"acme/web\"},"
		"\"commits\":[],\"total_commits_count\":0}");
	char *mr = gitlab_mr("open", 3, 3, NULL);
	char *fork = gitlab_mr("open", 9, 3, NULL);
	char *upd = gitlab_mr("update", 3, 3, NULL);
	char *upd2 = gitlab_mr("update", 3, 3, "\"oldrev\":\"" SHA1 "\",");

	(void)state;
	fx_add(f, PIPELINE("web", PR_TRIGGER, SECRET_BINDING));
	gitlab(f, "Push Hook", "g-1", "wrong", push, &o);
	assert_int_equal(o.status, 401);
	wh_outcome_release(&o);
	gitlab(f, "Push Hook", "g-1", NULL, push, &o);
	assert_int_equal(o.status, 401);
	wh_outcome_release(&o);
	/* object_kind must agree with the header */
	gitlab(f, "Merge Request Hook", "g-1", SECRET, push, &o);
	assert_int_equal(o.status, 400);
	wh_outcome_release(&o);
	/* a trigger with pullRequest only: a push starts nothing */
	gitlab(f, "Push Hook", "g-1", SECRET, push, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "matches no push filter"));
	wh_outcome_release(&o);
	gitlab(f, "Merge Request Hook", "g-2", SECRET, mr, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	assert_string_equal(o.starts[0].revision, SHA2);
	assert_string_equal(o.starts[0].ref, "refs/merge-requests/7/head");
	wh_outcome_release(&o);
	gitlab(f, "Merge Request Hook", "g-3", SECRET, fork, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	if (!strstr(o.body, "comes from a fork (eve/web)"))
		fail_msg("%s", o.body);
	wh_outcome_release(&o);
	/* an update that changed no code has no oldrev */
	gitlab(f, "Merge Request Hook", "g-4", SECRET, upd, &o);
	assert_int_equal(o.nr_starts, 0);
	wh_outcome_release(&o);
	gitlab(f, "Merge Request Hook", "g-5", SECRET, upd2, &o);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	/* the binding lets forks in */
	f->pl[0].allow_fork_pull_requests = true;
	gitlab(f, "Merge Request Hook", "g-6", SECRET, fork, &o);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	free(push);
	free(mr);
	free(fork);
	free(upd);
	free(upd2);
	fx_free(f);
}

static char *gitea_pr(const char *action, long head_id)
{
	return xasprintf(
		"{\"action\":\"%s\",\"number\":4,"
		"\"pull_request\":{\"head\":{\"ref\":\"f\",\"sha\":\"" SHA2
		"\","
		"\"repo_id\":%ld,\"repo\":{\"full_name\":\"eve/web\"}},"
		"\"base\":{\"ref\":\"main\",\"repo_id\":1}},"
		"\"repository\":{\"id\":1,\"full_name\":\"acme/web\"},"
		"\"sender\":{\"login\":\"eve\"}}",
		action, head_id);
}

static int gitea(struct fx *f, const char *event, const char *id,
		 const char *sign_over, const char *body, const char *ctype,
		 struct wh_outcome *o)
{
	char hex[65];
	struct http_header h[] = { { "X-Gitea-Event", event },
				   { "X-Gitea-Delivery", id },
				   { "X-Gitea-Signature", hex },
				   { "X-GitHub-Event", "bogus" },
				   { "Content-Type", ctype } };

	hmac_hex(SECRET, sign_over, strlen(sign_over), hex);
	return webhook_handle("gitea", h, 5, body, strlen(body), f->pls, f->npl,
			      f->state, o);
}

static void test_webhook__gitea(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *sync = gitea_pr("synchronized", 1);
	char *fork = gitea_pr("opened", 2);
	char *label = gitea_pr("label_updated", 1);
	char *form;
	struct buf enc = BUF_INIT;

	(void)state;
	fx_add(f, PIPELINE("web", PR_TRIGGER, SECRET_BINDING));
	/* the X-Gitea-Event header decides, not X-GitHub-Event */
	gitea(f, "pull_request", "t-1", sync, sync, "application/json", &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	assert_string_equal(o.starts[0].ref, "refs/pull/4/head");
	wh_outcome_release(&o);
	gitea(f, "pull_request", "t-2", fork, fork, "application/json", &o);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "fork"));
	wh_outcome_release(&o);
	gitea(f, "pull_request", "t-3", label, label, "application/json", &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	wh_outcome_release(&o);
	/* a form body: Gitea signs the JSON, not the form */
	buf_addstr(&enc, "payload=");
	for (const char *p = sync; *p; p++)
		if (strchr("{}\":,[] ", *p))
			buf_addf(&enc, "%%%02X", (unsigned char)*p);
		else
			buf_addch(&enc, *p);
	form = buf_detach(&enc);
	gitea(f, "pull_request", "t-4", sync, form,
	      "application/x-www-form-urlencoded", &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	gitea(f, "pull_request", "t-5", form, form,
	      "application/x-www-form-urlencoded", &o);
	assert_int_equal(o.status, 401);
	wh_outcome_release(&o);
	free(form);
	free(sync);
	free(fork);
	free(label);
	fx_free(f);
}

static void test_webhook__github_pull_request_and_ping(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	const char *pr =
		"{\"action\":\"synchronize\",\"number\":12,"
		"\"pull_request\":{\"head\":{\"ref\":\"f\",\"sha\":\"" SHA2
		"\","
		"\"repo\":{\"id\":1,\"full_name\":\"acme/web\"}},"
		"\"base\":{\"ref\":\"main\",\"repo\":{\"id\":1}}},"
		"\"repository\":{\"id\":1,\"full_name\":\"acme/web\"}}";
	const char *gone =
		"{\"action\":\"opened\",\"number\":13,"
		"\"pull_request\":{\"head\":{\"ref\":\"f\",\"sha\":\"" SHA2
		"\","
		"\"repo\":null},\"base\":{\"ref\":\"main\",\"repo\":{\"id\":1}}"
		"},"
		"\"repository\":{\"id\":1,\"full_name\":\"acme/web\"}}";

	(void)state;
	fx_add(f, PIPELINE("web", PR_TRIGGER, SECRET_BINDING));
	github(f, "ping", "p-0", SECRET, "{\"zen\":\"hi\",\"hook_id\":1}", &o);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.nr_starts, 0);
	wh_outcome_release(&o);
	github(f, "pull_request", "p-1", SECRET, pr, &o);
	assert_int_equal(o.nr_starts, 1);
	assert_string_equal(o.starts[0].ref, "refs/pull/12/head");
	wh_outcome_release(&o);
	/* a deleted fork counts as a fork */
	github(f, "pull_request", "p-2", SECRET, gone, &o);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "fork (deleted)"));
	wh_outcome_release(&o);
	/* what the sender names stays on one line */
	{
		const char *evil =
			"{\"action\":\"synchronize\",\"number\":14,"
			"\"pull_request\":{\"head\":{\"ref\":\"f\",\"sha\":"
			"\"" SHA2
			"\",\"repo\":{\"id\":1}},\"base\":{\"ref\":\"main\","
			"\"repo\":{\"id\":1}}},\"sender\":{\"login\":"
			"\"eve\\nstarted pipeline x\"},"
			"\"repository\":{\"id\":1,\"full_name\":\"acme/web\"}}";

		github(f, "pull_request", "p-evil", SECRET, evil, &o);
		assert_int_equal(o.nr_starts, 1);
		assert_null(strchr(o.starts[0].summary, '\n'));
		assert_non_null(strstr(o.starts[0].summary, "eve?started"));
		wh_outcome_release(&o);
	}
	github(f, "issues", "p-3", SECRET, "{}", &o);
	assert_int_equal(o.status, 202);
	assert_non_null(strstr(o.body, "not one slipway acts on"));
	wh_outcome_release(&o);
	fx_free(f);
}

#define PUSH_TRIGGER                                                           \
	"  triggers:\n"                                                        \
	"    - providerType: CodeStarSourceConnection\n"                       \
	"      gitConfiguration:\n"                                            \
	"        sourceActionName: Src\n"                                      \
	"        push:\n"                                                      \
	"          - branches: {includes: ['release/**']}\n"                   \
	"            filePaths: {includes: ['src/**'], excludes: "             \
	"['**/*.md']}\n"                                                       \
	"          - tags: {includes: ['v*'], excludes: ['v0.*']}\n"

static void test_webhook__push_filters(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	struct {
		const char *ref, *files;
		size_t starts;
	} cases[] = {
		{ "refs/heads/release/1.2", "\"src/a.c\"", 1 },
		{ "refs/heads/release/1.2", "\"src/README.md\"", 0 },
		{ "refs/heads/release/1.2", "\"src/README.md\",\"src/x/y.c\"",
		  1 },
		{ "refs/heads/release/1.2", "\"docs/a.c\"", 0 },
		{ "refs/heads/main", "\"src/a.c\"", 0 },
		{ "refs/tags/v1.0", "", 1 },
		{ "refs/tags/v0.9", "", 0 },
		{ "refs/tags/x1", "", 0 },
	};

	(void)state;
	fx_add(f, PIPELINE("web", PUSH_TRIGGER, SECRET_BINDING));
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *body = push_body(cases[i].ref, SHA2, cases[i].files);
		char id[16];

		snprintf(id, sizeof(id), "f-%zu", i);
		github(f, "push", id, SECRET, body, &o);
		assert_int_equal(o.status, 202);
		if (o.nr_starts != cases[i].starts)
			fail_msg("%s [%s]: %zu starts: %s", cases[i].ref,
				 cases[i].files, o.nr_starts, o.body);
		wh_outcome_release(&o);
		free(body);
	}
	/* a file changed by several commits counts once */
	{
		char *body = xasprintf(
			"{\"ref\":\"refs/heads/release/3\",\"after\":\"" SHA2
			"\",\"repository\":{\"full_name\":\"acme/web\"},"
			"\"commits\":[{\"added\":[\"docs/b\",\"docs/a\"]},"
			"{\"modified\":[\"docs/a\"],\"removed\":[\"docs/b\","
			"\"docs/c\"]}]}");

		github(f, "push", "f-dup", SECRET, body, &o);
		assert_int_equal(o.nr_starts, 0);
		if (!strstr(o.body, "(3 changed files)"))
			fail_msg("%s", o.body);
		wh_outcome_release(&o);
		free(body);
	}
	fx_free(f);
}

static void test_webhook__deleted_and_skipped(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *del = push_body("refs/heads/main",
			      "0000000000000000000000000000000000000000", "");
	char *skip =
		xasprintf("{\"ref\":\"refs/heads/main\",\"after\":\"" SHA2 "\","
			  "\"repository\":{\"full_name\":\"acme/web\"},"
			  "\"head_commit\":{\"message\":\"docs [Skip  CI]\"}}");

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	github(f, "push", "x-1", SECRET, del, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "deleted"));
	wh_outcome_release(&o);
	github(f, "push", "x-2", SECRET, skip, &o);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "skip CI"));
	wh_outcome_release(&o);
	free(del);
	free(skip);
	fx_free(f);
}

static void test_webhook__glob(void **state)
{
	(void)state;
	assert_true(trigger_glob("main", "main"));
	assert_false(trigger_glob("main", "main2"));
	assert_true(trigger_glob("feature/*", "feature/x"));
	assert_false(trigger_glob("feature/*", "feature/x/y"));
	assert_true(trigger_glob("feature/**", "feature/x/y"));
	assert_true(trigger_glob("**/*.md", "README.md"));
	assert_true(trigger_glob("**/*.md", "a/b/README.md"));
	assert_false(trigger_glob("*.md", "a/README.md"));
	assert_true(trigger_glob("v?.[0-9]", "v1.2"));
	assert_false(trigger_glob("v?.[0-9]", "v1.x"));
	assert_true(trigger_glob("v[!0].*", "v1.x"));
	assert_true(trigger_glob("{main,release/*}", "release/2"));
	assert_true(trigger_glob("src/{a,b{c,d}}.c", "src/bd.c"));
	assert_false(trigger_glob("src/{a,b{c,d}}.c", "src/b.c"));
	assert_true(trigger_glob("a\\*b", "a*b"));
	assert_false(trigger_glob("a\\*b", "axb"));
	assert_true(trigger_glob("[unclosed", "[unclosed"));
	/* a pathological pattern gives up rather than spin */
	assert_false(trigger_glob("**a**a**a**a**a**a**a**a**a**b",
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_webhook__binding_keys(void **state)
{
	struct fx *f = fx_new();
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *ok =
		PIPELINE("web", "",
			 "  allow-fork-pull-requests: true\n"
			 "  statuses:\n"
			 "    acme/web: {forge: gitlab, token-file: secret}\n");
	const char *bad =
		PIPELINE("web", "",
			 "  statuses:\n"
			 "    acme/api: {forge: github, token-file: secret}\n");
	const char *badforge = PIPELINE(
		"web", "",
		"  statuses:\n"
		"    acme/web: {forge: bitbucket, token-file: secret}\n");

	(void)state;
	assert_int_equal(
		pipeline_parse("p.yml", f->dir, ok, strlen(ok), &pl, &e), 0);
	assert_true(pl.allow_fork_pull_requests);
	assert_int_equal(pl.nr_statuses, 1);
	assert_string_equal(pl.statuses[0].forge, "gitlab");
	assert_string_equal(pl.statuses[0].api, "https://gitlab.com/api/v4");
	assert_string_equal(pl.statuses[0].repository, "acme/web");
	assert_string_equal(pl.statuses[0].context, "slipway/web");
	pipeline_release(&pl);
	assert_int_equal(
		pipeline_parse("p.yml", f->dir, bad, strlen(bad), &pl, &e), -1);
	assert_non_null(strstr(e.msg, "'acme/api' is not a name in "
				      "'slipway.sources'"));
	err_clear(&e);
	assert_int_equal(pipeline_parse("p.yml", f->dir, badforge,
					strlen(badforge), &pl, &e),
			 -1);
	assert_non_null(strstr(e.msg, "one of github, gitlab, gitea"));
	fx_free(f);
}

static void test_webhook__github_form_body(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *json = push_body("refs/heads/main", SHA2, "");
	struct buf form = BUF_INIT;
	char hex[65], sig[80];
	struct http_header h[] = {
		{ "X-GitHub-Event", "push" },
		{ "X-GitHub-Delivery", "form-1" },
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "X-Hub-Signature-256", sig },
	};

	(void)state;
	fx_add(f, PIPELINE("web", "", SECRET_BINDING));
	buf_addstr(&form, "payload=");
	for (const char *p = json; *p; p++)
		if (*p == ' ')
			buf_addch(&form, '+');
		else if (strchr("{}\":,[]/", *p))
			buf_addf(&form, "%%%02x", (unsigned char)*p);
		else
			buf_addch(&form, *p);
	/* GitHub signs the form body as it is sent */
	hmac_hex(SECRET, form.ptr, form.len, hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	webhook_handle("github", h, 4, form.ptr, form.len, f->pls, f->npl,
		       f->state, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	assert_string_equal(o.starts[0].revision, SHA2);
	wh_outcome_release(&o);
	buf_release(&form);
	free(json);
	fx_free(f);
}

static void test_webhook__huge_fields(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	struct buf b = BUF_INIT;

	(void)state;
	fx_add(f, PIPELINE("web", PUSH_TRIGGER, SECRET_BINDING));
	buf_addstr(&b, "{\"ref\":\"refs/heads/release/9\",\"after\":\"" SHA2
		       "\",\"repository\":{\"full_name\":\"acme/web\"},"
		       "\"head_commit\":{\"message\":\"");
	for (int i = 0; i < 1 << 20; i++)
		buf_addch(&b, 'm');
	buf_addstr(&b, "\"},\"commits\":[{\"added\":[");
	for (int i = 0; i < 20000; i++)
		buf_addf(&b, "%s\"docs/%d/%0200d.md\"", i ? "," : "", i, i);
	buf_addstr(&b, ",\"src/x.c\"]}]}");
	github(f, "push", "huge-1", SECRET, b.ptr, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	buf_release(&b);
	fx_free(f);
}

static void test_webhook__one_start_per_pipeline(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	char *body = push_body("refs/heads/main", SHA2, "");
	/* two source actions on the same repository and branch */
	const char *two = PIPELINE(
		"web",
		"    - name: U\n"
		"      actions:\n"
		"        - name: D\n"
		"          actionTypeId: {category: Invoke, owner: Custom, "
		"provider: Command, version: '1'}\n"
		"          configuration: {Command: 'true'}\n"
		"          inputArtifacts: [{name: B}]\n",
		SECRET_BINDING);
	char *text = xstrdup(two), *at = strstr(text, "    - name: T\n");
	char *full = xasprintf(
		"%.*s"
		"        - name: Src2\n"
		"          actionTypeId: {category: Source, owner: AWS, "
		"provider: "
		"CodeStarSourceConnection, version: '1'}\n"
		"          configuration: {ConnectionArn: x, FullRepositoryId: "
		"acme/web, BranchName: main}\n"
		"          outputArtifacts: [{name: B}]\n%s",
		(int)(at - text), text, at);

	(void)state;
	fx_add(f, full);
	assert_int_equal(f->pl[0].stages[0].nr_actions, 2);
	github(f, "push", "one-1", SECRET, body, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 1);
	wh_outcome_release(&o);
	free(full);
	free(text);
	free(body);
	fx_free(f);
}

/* The seen-set: per forge, pruned by age, and poll heads kept by key. */
static void test_webhook__store_tables(void **state)
{
	struct fx *f = fx_new();
	struct sw_err e = SW_ERR_INIT;
	struct strvec refs = STRVEC_INIT, oids = STRVEC_INIT;
	struct store *s;
	char *db = fs_join(f->state, "slipway.db");
	int first = -1, v = 0;

	(void)state;
	assert_int_equal(store_open(&s, db, &e), 0);
	assert_int_equal(store_version(s, &v, &e), 0);
	assert_true(v >= 3);
	assert_int_equal(
		store_delivery_record(s, "github", "a", 1000, &first, &e), 0);
	assert_int_equal(first, 1);
	store_delivery_record(s, "github", "a", 2000, &first, &e);
	assert_int_equal(first, 0);
	store_delivery_record(s, "gitlab", "a", 2000, &first, &e);
	assert_int_equal(first, 1);
	/* forgotten once old enough, then new again */
	assert_int_equal(store_delivery_prune(s, 1500, &e), 0);
	store_delivery_record(s, "github", "a", 3000, &first, &e);
	assert_int_equal(first, 1);
	store_delivery_record(s, "gitlab", "a", 3000, &first, &e);
	assert_int_equal(first, 0);

	store_poll_head_set(s, "k", "refs/heads/main", SHA1, 1, &e);
	store_poll_head_set(s, "k", "refs/tags/v1", SHA1, 1, &e);
	store_poll_head_set(s, "other", "refs/heads/main", SHA1, 1, &e);
	store_poll_head_set(s, "k", "refs/heads/main", SHA2, 2, &e);
	store_poll_head_set(s, "k", "refs/tags/v1", NULL, 2, &e);
	assert_int_equal(store_poll_heads(s, "k", &refs, &oids, &e), 0);
	assert_int_equal(refs.nr, 1);
	assert_string_equal(refs.v[0], "refs/heads/main");
	assert_string_equal(oids.v[0], SHA2);
	assert_int_equal(e.code, 0);
	strvec_release(&refs);
	strvec_release(&oids);
	store_close(s);
	free(db);
	fx_free(f);
}

/* Another pipeline's secret never starts this one. */
static void test_webhook__secret_is_per_pipeline(void **state)
{
	struct fx *f = fx_new();
	struct wh_outcome o = WH_OUTCOME_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *body = push_body("refs/heads/main", SHA2, "");
	char *p = fs_join(f->dir, "secret2");

	(void)state;
	assert_int_equal(fs_write_atomic(p, "other-secret", 12, 0600, &e), 0);
	free(p);
	fx_add(f, PIPELINE("web", "", "  webhook-secret-file: secret2\n"));
	fx_add(f, PIPELINE("api", "", SECRET_BINDING));
	free(f->pl[1].sources[0].name);
	f->pl[1].sources[0].name = xstrdup("acme/api");
	free(f->pl[1].stages[0].actions[0].config[1].value);
	f->pl[1].stages[0].actions[0].config[1].value = xstrdup("acme/api");
	/* signed with api's secret, naming web's repository */
	github(f, "push", "per-1", SECRET, body, &o);
	assert_int_equal(o.status, 202);
	assert_int_equal(o.nr_starts, 0);
	assert_non_null(strstr(o.body, "pipeline 'web': it watches acme/web "
				       "but its secret did not verify"));
	wh_outcome_release(&o);
	github(f, "push", "per-2", "other-secret", body, &o);
	assert_int_equal(o.nr_starts, 1);
	assert_int_equal(o.starts[0].pipeline, 0);
	wh_outcome_release(&o);
	free(body);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_webhook__github_test_vector),
		cmocka_unit_test(test_webhook__github_push_starts),
		cmocka_unit_test(test_webhook__github_push_other_branch),
		cmocka_unit_test(test_webhook__signatures_refused),
		cmocka_unit_test(test_webhook__no_secret_never_matches),
		cmocka_unit_test(test_webhook__malformed_json),
		cmocka_unit_test(test_webhook__duplicate_delivery),
		cmocka_unit_test(test_webhook__racing_processes),
		cmocka_unit_test(test_webhook__gitlab),
		cmocka_unit_test(test_webhook__gitea),
		cmocka_unit_test(test_webhook__github_pull_request_and_ping),
		cmocka_unit_test(test_webhook__push_filters),
		cmocka_unit_test(test_webhook__deleted_and_skipped),
		cmocka_unit_test(test_webhook__glob),
		cmocka_unit_test(test_webhook__binding_keys),
		cmocka_unit_test(test_webhook__github_form_body),
		cmocka_unit_test(test_webhook__huge_fields),
		cmocka_unit_test(test_webhook__one_start_per_pipeline),
		cmocka_unit_test(test_webhook__store_tables),
		cmocka_unit_test(test_webhook__secret_is_per_pipeline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
