/*
 * status: commit statuses on GitHub, GitLab and Gitea for the sources of
 * an execution (slipway.statuses; docs/webhooks.md "Commit statuses").
 *
 *   char *rec = status_record(&pl.statuses[i], sha, STATUS_SUCCESS,
 *                             "pipeline web succeeded", url);
 *   if (rec)
 *           deliver_queue_request(pe_dir, "status-0", "acme/web", rec);
 *   free(rec);
 *
 * The execution sends them from its events (exec.c): when a source
 * action has fetched its commit, pending (GitLab: running); when the
 * execution ends, success, failure, or error for one stopped or
 * superseded (GitLab: success, failed, canceled). target_url is the
 * execution's dashboard page, $SLIPWAY_PUBLIC_URL/executions/<pe-id>,
 * when SLIPWAY_PUBLIC_URL is set (slipway serve sets it from its public
 * URL), else there is none.
 *
 *   GitHub  POST {api}/repos/{owner}/{repo}/statuses/{sha}
 *           Authorization: Bearer TOKEN, X-GitHub-Api-Version 2022-11-28
 *   GitLab  POST {api}/projects/{url-encoded path}/statuses/{sha}
 *           PRIVATE-TOKEN: TOKEN; a 400 "Cannot transition status" (the
 *           state it already has) counts as delivered
 *   Gitea   POST {api}/repos/{owner}/{repo}/statuses/{sha}
 *           Authorization: token TOKEN
 *
 * The description is cut to 140 bytes on a UTF-8 boundary (GitHub
 * refuses longer ones).
 */
#ifndef SW_PIPELINE_STATUS_H
#define SW_PIPELINE_STATUS_H

struct pl_status;

enum status_state {
	STATUS_PENDING,
	STATUS_RUNNING, /* GitLab's own; pending elsewhere */
	STATUS_SUCCESS,
	STATUS_FAILURE,
	STATUS_ERROR, /* stopped or superseded: GitLab's canceled */
};

#define STATUS_DESCRIPTION_MAX 140

/*
 * The record deliver_queue_request() takes, for commit sha (40 or 64
 * hex; else NULL is returned) of st's repository. target_url may be
 * NULL. The caller frees it.
 */
char *status_record(const struct pl_status *st, const char *sha,
		    enum status_state state, const char *description,
		    const char *target_url);

#endif
