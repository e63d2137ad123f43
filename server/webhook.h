/*
 * webhook: a forge's push or pull request delivery, verified and matched
 * to the pipelines it starts (docs/webhooks.md).
 *
 *   struct http_header h[] = { { "X-GitHub-Event", "push" }, ... };
 *   struct wh_outcome out = WH_OUTCOME_INIT;
 *   webhook_handle("github", h, nh, body, len, pls, npl, state_dir, &out);
 *   reply(out.status, out.body);                   -- JSON, always set
 *   for (size_t i = 0; i < out.nr_starts; i++)
 *           queue(pls[out.starts[i].pipeline], out.starts[i].revision, ..);
 *   wh_outcome_release(&out);
 *
 * forge is "github", "gitlab" or "gitea" (Forgejo and Gogs too), as the
 * path /webhooks/<forge> names it; header names are matched without
 * regard to case. The caller has already refused a body over its size
 * limit (413) and any method but POST.
 *
 * In this order, so that nothing an unauthenticated sender wrote is
 * parsed, stored or acted upon:
 *   1. the signature is checked against the secret of every pipeline
 *      that has a slipway.webhook-secret-file (read at each delivery):
 *      GitHub's X-Hub-Signature-256 "sha256=<hex HMAC-SHA256 of the raw
 *      body>", Gitea's X-Gitea-Signature (X-Forgejo-Signature) "<hex
 *      HMAC-SHA256 of the JSON payload>", GitLab's X-Gitlab-Token (the
 *      secret itself). All compares are constant-time. None verifies:
 *      401, and the body says why (no pipeline has a secret, no
 *      signature, wrong signature).
 *   2. the payload is parsed (a form body's payload= field is decoded
 *      first): not JSON, or not the shape of its event: 400.
 *   3. the delivery id (X-GitHub-Delivery; GitLab's Idempotency-Key, else
 *      X-Gitlab-Event-UUID; X-Gitea-Delivery; else the SHA-256 of the
 *      body) is recorded in the store (<state_dir>/slipway.db, table
 *      webhook_deliveries); one already recorded is answered 200
 *      {"duplicate": true} and starts nothing, whichever process saw it
 *      first.
 *   4. the repository the delivery names is matched against the
 *      pipelines whose secret verified it, then their triggers (or,
 *      without triggers, a push to the source action's BranchName).
 *      Pull requests from forks start nothing unless the pipeline's
 *      binding says slipway.allow-fork-pull-requests: true.
 *
 * Statuses: 202 {"delivery", "event", "started": [{"pipeline",
 * "revision", "ref"}], "reasons": [..]} when verified (started may be
 * empty; reasons then say, per pipeline, why nothing started), 200 for a
 * ping or a duplicate, 400, 401 as above, 500 when the store fails.
 *
 * webhook_handle() returns 0, or -1 when the store failed (out->status
 * is 500 then). out->body and every string of out->starts belong to out;
 * wh_outcome_release() frees them.
 *
 * For the server: start each wh_start as exec_start() with
 * exec_opts.revision = revision for a push, = ref for a pull request
 * (its commit is only named by refs/pull/N/head in the base repository,
 * and source_fetch() fetches a ref given so); trigger trigger_type and
 * summary as its detail. Commit statuses (pipeline/status.h) link to the
 * execution's page when the environment has SLIPWAY_PUBLIC_URL (the
 * server's public base URL, no trailing slash needed):
 * $SLIPWAY_PUBLIC_URL/executions/<pe-id>.
 */
#ifndef SW_SERVER_WEBHOOK_H
#define SW_SERVER_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

struct pipeline;

struct http_header {
	const char *name, *value;
};

/* An execution to start: pls[pipeline] at revision. */
struct wh_start {
	size_t pipeline; /* index into pls */
	char *revision; /* the commit (40 or 64 hex) */
	/* the ref it came from: refs/heads/B, refs/tags/T, or a pull
	 * request's head in the base repository (refs/pull/N/head,
	 * refs/merge-requests/N/head) */
	char *ref;
	char *summary; /* trigger detail: "github push to main (delivery X)" */
	char *source_action; /* the source action it triggers */
	char *trigger_type; /* "WebhookV2" (or "PollForSourceChanges") */
};

struct wh_outcome {
	int status; /* HTTP status */
	char *body; /* JSON response */
	struct wh_start *starts;
	size_t nr_starts;
	char *delivery; /* the delivery id, for the request's log line */
};

#define WH_OUTCOME_INIT                                                        \
	{                                                                      \
		0, NULL, NULL, 0, NULL                                         \
	}

int webhook_handle(const char *forge, const struct http_header *h, size_t nh,
		   const char *body, size_t len, struct pipeline *const *pls,
		   size_t npl, const char *state_dir, struct wh_outcome *out);

void wh_outcome_release(struct wh_outcome *o);
/* Free the strings of one start. */
void wh_start_release(struct wh_start *s);

#endif
