/*
 * html: a build, deployment or run report as one self-contained HTML page
 * (inline CSS and a little inline JavaScript, nothing fetched: it opens
 * offline, from a mail attachment or a CI artifact store).
 *
 *   const char *paths[] = { "builds/hello-<uuid>/report.json",
 *                           "deployments/d-ABC/report.json" };
 *   if (html_report_write(paths, 2, "out.html", &e) < 0)
 *           ... "deployments/d-ABC/report.json: not a build, deployment
 *               or run report" (ERR_SPEC)
 *
 *   html_beside("deployments/d-ABC/report.json");
 *           -- writes deployments/d-ABC/report.html; failure only warns
 *
 *   struct buf page = BUF_INIT;
 *   html_render(texts, n, &page, &e);  -- the same from JSON texts
 *
 * Each report is detected by its keys: "runId" (a run: {runId, status,
 * build, deployments[]}), "deploymentId" (a deployment), "buildStatus" or
 * "phases" (a build). The page shows, per report: a header with the
 * status; for a build its phase timeline (bars proportional to the
 * phases' durations), test and coverage summaries, artifacts with sizes
 * and digests; for a deployment a grid of hosts by lifecycle events,
 * coloured by status, each failed event's diagnostics in a <details>
 * (a click away, with or without JavaScript), and rollbacks linked to
 * the deployment they roll back when both are on the page. Every string
 * taken from a report is escaped.
 *
 * Status colours (the CSS classes of badges, bars and cells):
 *   st-ok   SUCCEEDED, Succeeded
 *   st-bad  FAILED, Failed, FAULT, ERROR, CLIENT_ERROR
 *   st-warn IN_PROGRESS, InProgress, TIMED_OUT, STOPPED, Stopped, ...
 *   st-skip Skipped, Pending, Unknown, anything else
 */
#ifndef SW_HTML_H
#define SW_HTML_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * Read the n (>= 1) report.json files and write them as one page to
 * out_html (atomically: fs_write_atomic). Returns 0, or -1 with *e set:
 * ERR_SPEC for a file that is not JSON or not a report, ERR_SYSTEM for
 * one that cannot be read or written.
 */
int html_report_write(const char *const *json_paths, size_t n,
		      const char *out_html, struct sw_err *e);

/* The page for n JSON texts, appended to *out. Errors as above. */
int html_render(const char *const *texts, size_t n, struct buf *out,
		struct sw_err *e);

/* The same without the page around: the reports' <section>s only, for a
 * page that has its own head and style (html_css). */
int html_render_sections(const char *const *texts, size_t n, struct buf *out,
			 struct sw_err *e);

/* The report pages' style sheet (what goes in their <style>). */
extern const char html_css[];

/* <dirname of report_json_path>/report.html from that one report; on
 * failure prints "warning: ..." on stderr and carries on. Written
 * atomically but not synced (fs_replace): `slipway report` rebuilds it
 * from the report.json. */
void html_beside(const char *report_json_path);

/* Append s with & < > " ' as character references and control
 * characters (but tab, newline) dropped: safe in text and in a quoted
 * attribute. */
void html_escape(struct buf *b, const char *s);

/* "st-ok", "st-bad", "st-warn" or "st-skip" for a status name of any
 * of CodeBuild's or CodeDeploy's spellings (NULL: "st-skip"). */
const char *html_status_class(const char *status);

#endif
