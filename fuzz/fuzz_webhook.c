/*
 * libFuzzer harness for the webhook parsers (server/webhook.c): the
 * payload of a push, pull request or merge request as each forge sends
 * it, past the signature check (the harness signs every input), through
 * JSON parsing, event shapes, dedupe and trigger matching.
 *
 * Input: byte 0 picks the forge (github, gitlab, gitea), byte 1 the
 * event header, the rest is the body. Any input must give 200, 202 or
 * 400 with a JSON body, and starts only with 202, each at a commit id
 * and a full ref; never a crash, a leak or undefined behaviour.
 */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "pipeline.h"
#include "webhook.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret"

static const char *const forges[] = { "github", "gitlab", "gitea" };
static const char *const events[][4] = {
	{ "push", "pull_request", "ping", "issues" },
	{ "Push Hook", "Tag Push Hook", "Merge Request Hook", "Note Hook" },
	{ "push", "pull_request", "create", "delete" },
};

/* One pipeline with no triggers, one with filters of every kind. */
static const char text[] =
	"pipeline:\n"
	"  name: web\n"
	"  stages:\n"
	"    - name: S\n"
	"      actions:\n"
	"        - name: Src\n"
	"          actionTypeId: {category: Source, owner: AWS, provider: "
	"CodeStarSourceConnection, version: '1'}\n"
	"          configuration: {ConnectionArn: x, FullRepositoryId: "
	"acme/web, BranchName: main}\n"
	"          outputArtifacts: [{name: A}]\n"
	"    - name: T\n"
	"      actions:\n"
	"        - name: C\n"
	"          actionTypeId: {category: Invoke, owner: Custom, provider: "
	"Command, version: '1'}\n"
	"          configuration: {Command: 'true'}\n"
	"          inputArtifacts: [{name: A}]\n"
	"  %s\n"
	"slipway:\n"
	"  sources: {acme/web: 'https://git.example.com/acme/web.git'}\n"
	"  webhook-secret-file: secret\n";
static const char triggers[] =
	"triggers:\n"
	"    - providerType: CodeStarSourceConnection\n"
	"      gitConfiguration:\n"
	"        sourceActionName: Src\n"
	"        push:\n"
	"          - branches: {includes: ['release/**', '{a,b}*'], "
	"excludes: ['*x*']}\n"
	"            filePaths: {includes: ['src/**'], excludes: ['**/*.md']}\n"
	"          - tags: {includes: ['v[0-9]*']}\n"
	"        pullRequest: [{events: [OPEN, UPDATED, CLOSED], branches: "
	"{includes: [main]}, filePaths: {includes: ['**']}}]\n";

static struct pipeline pl[2];
static struct pipeline *pls[2];
static char dir[] = "/tmp/fuzz_webhook.XXXXXX";
static char *state;

static void cleanup(void)
{
	struct sw_err e = SW_ERR_INIT;

	fs_remove_tree(dir, &e);
}

static void setup(void)
{
	struct sw_err e = SW_ERR_INIT;
	char buf[4096], *p;

	if (!mkdtemp(dir))
		__builtin_trap();
	atexit(cleanup);
	p = fs_join(dir, "secret");
	if (fs_write_atomic(p, SECRET, strlen(SECRET), 0600, &e) < 0)
		__builtin_trap();
	free(p);
	state = fs_join(dir, "state");
	if (fs_mkdir_p(state, 0755, &e) < 0)
		__builtin_trap();
	for (int i = 0; i < 2; i++) {
		int n = snprintf(buf, sizeof(buf), text, i ? triggers : "");

		if (pipeline_parse("fuzz.yml", dir, buf, (size_t)n, &pl[i],
				   &e) < 0)
			__builtin_trap();
		pls[i] = &pl[i];
	}
	pl[1].allow_fork_pull_requests = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct wh_outcome o = WH_OUTCOME_INIT;
	unsigned char mac[32];
	unsigned int n = 0;
	char hex[80];
	struct http_header h[3];
	const char *body;
	size_t len, f;
	json_object *resp;

	if (!ready++)
		setup();
	if (size < 2)
		return 0;
	f = data[0] % 3;
	body = (const char *)data + 2;
	len = size - 2;
	h[0].name = f == 0   ? "X-GitHub-Event"
		    : f == 1 ? "X-Gitlab-Event"
			     : "X-Gitea-Event";
	h[0].value = events[f][data[1] % 4];
	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	     (const unsigned char *)body, len, mac, &n);
	for (int i = 0; i < 32; i++)
		snprintf(hex + (f == 0 ? 7 : 0) + 2 * i, 3, "%02x", mac[i]);
	if (f == 0)
		memcpy(hex, "sha256=", 7);
	h[1].name = f == 0   ? "X-Hub-Signature-256"
		    : f == 1 ? "X-Gitlab-Token"
			     : "X-Gitea-Signature";
	h[1].value = f == 1 ? SECRET : hex;
	h[2].name = "Content-Type";
	h[2].value = "application/json";
	if (webhook_handle(forges[f], h, 3, body, len, pls, 2, state, &o) < 0)
		__builtin_trap(); /* the store never fails here */
	if ((o.status != 200 && o.status != 202 && o.status != 400) ||
	    !o.body || !(resp = json_tokener_parse(o.body)))
		__builtin_trap();
	json_object_put(resp);
	if (o.nr_starts && o.status != 202)
		__builtin_trap();
	for (size_t i = 0; i < o.nr_starts; i++) {
		const struct wh_start *s = &o.starts[i];

		if (s->pipeline >= 2 || !s->revision ||
		    (strlen(s->revision) != 40 && strlen(s->revision) != 64) ||
		    strspn(s->revision, "0123456789abcdef") !=
			    strlen(s->revision) ||
		    strncmp(s->ref, "refs/", 5) || strstr(s->ref, ".."))
			__builtin_trap();
	}
	wh_outcome_release(&o);
	return 0;
}
