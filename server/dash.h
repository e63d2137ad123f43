/*
 * dash: the dashboard's pages (docs/dashboard.md) as HTML, from the
 * store's records (store.h), an execution's page JSON (exec_execution_json)
 * and the build and deployment reports. No I/O here but the artifact
 * opener at the end: each page is a function of what the caller hands
 * in, tested as such (tests/unit/test_dash.c).
 *
 *   struct buf b = BUF_INIT;
 *   struct dash_page pg = DASH_PAGE_INIT;
 *   pg.title = "Pipelines"; pg.live = "/?live=1";
 *   dash_begin(&b, &pg);                 -- head, header, <main>
 *   dash_pipelines(&b, rows, nr, waiting, nw, csrf);
 *   dash_end(&b, &pg);                   -- </main>, footer
 *
 * A page's <main> is what the dash_<page>() functions write: a live page
 * (pg.live set) has dash.js open that URL as an EventSource, and the
 * server sends the <main> again (dash_sse(), event "main") whenever it
 * changes; nothing on a page changes unless its records do (a running
 * action shows no ticking duration), so an unchanged page sends nothing.
 * A log (dash_log) streams its new lines instead (event "log", then
 * "end"). Without JavaScript every page is whole as served.
 *
 * Every string from a record, a report or a request goes through
 * html_escape() (text and quoted attributes alike) or, in a URL,
 * dash_url_seg(). The pages load nothing but /static/dash.css and
 * /static/dash.js (no inline script, no inline <style>): the server's
 * Content-Security-Policy (DASH_CSP) forbids anything else.
 *
 * Forms that change state (approve, reject) are POSTs carrying a CSRF
 * token, dash_csrf(): the HMAC-SHA256, keyed with the session's secret
 * (its bearer token), of a fixed label, as hex. A page from another
 * origin can read neither the token's cookie nor this page, so it cannot
 * make the token; dash_csrf_ok() checks it in constant time.
 */
#ifndef SW_SERVER_DASH_H
#define SW_SERVER_DASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "err.h"
#include "store.h"

struct json_object;

/* The headers every dashboard response carries. */
#define DASH_CSP                                                               \
	"default-src 'none'; style-src 'self'; style-src-attr "                \
	"'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src "     \
	"'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri "  \
	"'none'"

struct dash_page {
	const char *title; /* text of <title> and <h1> */
	const char *status; /* colours the header (html_status_class) */
	const char *live; /* URL of the page's event stream, or NULL */
	bool refresh; /* without JavaScript, reload every 5 s */
};

#define DASH_PAGE_INIT                                                         \
	{                                                                      \
		NULL, NULL, NULL, false                                        \
	}

void dash_begin(struct buf *b, const struct dash_page *pg);
void dash_end(struct buf *b, const struct dash_page *pg);

/* /static/dash.css: the report pages' style (html_css) and the
 * dashboard's own; /static/dash.js. */
void dash_style(struct buf *b);
extern const char dash_script[];

/* A path segment percent-encoded (all but A-Z a-z 0-9 - . _ ~ : @),
 * then escaped for an attribute. */
void dash_url_seg(struct buf *b, const char *s);

/* ---- pages ---- */

/* A pipeline the server knows, with its newest executions first. */
struct dash_pipeline {
	const char *name;
	const char *file; /* its declaration, or NULL */
	const struct store_execution *execs;
	size_t nr_execs;
};

/* The front page: the pipelines and their last executions; the
 * approvals waiting (store_list_approvals, status InProgress) with
 * their approve and reject forms (csrf NULL: no forms). */
void dash_pipelines(struct buf *b, const struct dash_pipeline *v, size_t nr,
		    const struct store_approval *waiting, size_t nw,
		    const char *csrf);

/*
 * An execution: root is exec_execution_json()'s object, which this changes:
 * each action's reportHref becomes the dashboard's page of its build or
 * deployment, a logHref is added for its log, an artifact's href its
 * download, and a running action's durationMs is dropped. The waiting
 * approvals of the execution get their forms, a failed execution Retry
 * buttons (POST /executions/ID/retry, mode failed or all) and a running
 * one Stop buttons (POST /executions/ID/stop, mode finish or abandon,
 * reason); csrf NULL: no form.
 */
void dash_execution(struct buf *b, struct json_object *root,
		    const struct store_approval *waiting, size_t nw,
		    const char *csrf);

/* A log as a page holds it: the tail of the file (text, len bytes,
 * ending at offset `end` of the file; complete lines only while live),
 * streamed on from there while live. */
struct dash_log {
	const char *text;
	size_t len;
	int64_t end;
	bool truncated; /* earlier output not shown */
	bool live;
	const char *stream; /* URL of its event stream, when live */
	const char *raw; /* URL of the whole log as text/plain, or NULL */
};

/* A build: its report's sections when there is one (report_json, NULL
 * while it runs), else its record; then its log. */
void dash_build(struct buf *b, const struct store_build *bd,
		const char *report_json, const struct dash_log *log);

/* A deployment: its report's sections (the host-by-event grid) when
 * there is one, else its record; then its log. */
void dash_deployment(struct buf *b, const struct store_deployment *d,
		     const char *report_json, const struct dash_log *log);

/* An action's log in an execution (a build in a pipeline has no build
 * page until it ends: this is where its output shows while it runs). */
void dash_action_log(struct buf *b, const char *execution_id, const char *stage,
		     const char *action, const char *status,
		     const struct dash_log *log);

/* History: executions, builds and deployments newest first in one
 * table, under a filter form (kind, name, status). */
struct dash_filter {
	const char *kind; /* NULL: all; "execution", "build", "deployment" */
	const char *name; /* pipeline, project or application */
	const char *status; /* Succeeded Failed InProgress Stopped, or NULL */
};

void dash_history(struct buf *b, const struct dash_filter *f,
		  const struct store_execution *x, size_t nx,
		  const struct store_build *bv, size_t nb,
		  const struct store_deployment *dv, size_t nd);

/* The store's spelling of a filter's status for a kind ("Failed" ->
 * "FAILED" for a build); NULL for none. */
const char *dash_status_for(const char *kind, const char *status);

/* An artifact's directory listing. */
struct dash_entry {
	char *name;
	bool dir, link;
	uint64_t size;
};

void dash_listing(struct buf *b, const char *sha, const char *rel,
		  const struct dash_entry *v, size_t nr);

/* A page of one message (an error, "no such build"). */
void dash_message(struct buf *b, const char *title, const char *msg);

/* ---- CSRF ---- */

#define DASH_CSRF_HEX 65

/* The token the forms of a session keyed by secret carry. */
void dash_csrf(const char *secret, char out[DASH_CSRF_HEX]);
/* Whether given is that token (constant time; NULL is not). */
bool dash_csrf_ok(const char *secret, const char *given);

/* The value of field name in an application/x-www-form-urlencoded body
 * (decoded: '+' and %XX), or NULL when absent or badly encoded (a %
 * without two hex digits, a NUL). The caller frees it. */
char *dash_form_get(const char *body, const char *name);

/* ---- events ---- */

/* Append one server-sent event: "event: NAME", one "data: " line per
 * line of data (CR dropped), a blank line. */
void dash_sse(struct buf *b, const char *event, const char *data, size_t len);

/* Append the log bytes data[0..len) (at offset start of the log) as one
 * "log" event whose data (as an EventSource hands it over) is those
 * bytes, CR and NUL dropped, and whose id is the offset after them (an
 * EventSource that reconnects sends it back as Last-Event-ID): complete
 * lines only, all of them when final; returns how many bytes it took
 * (0: none, and nothing appended). */
size_t dash_sse_log(struct buf *b, const char *data, size_t len, bool final,
		    int64_t start);

/* ---- artifacts ---- */

/*
 * Whether rel (a path inside an artifact, as the URL gave it after
 * percent-decoding) may be looked up: relative, no "." or ".." segment,
 * no empty segment but a trailing '/', no NUL or backslash. "" is the
 * artifact's root.
 */
bool dash_rel_ok(const char *rel);

/*
 * Open rel inside <artifacts>/<sha> (sha: 64 lowercase hex digits) for
 * reading: *fd (O_CLOEXEC) and its *st. The lookup never leaves the
 * artifact: symlinks are followed only while they stay beneath it
 * (openat2 RESOLVE_BENEATH; where the kernel lacks it, none is
 * followed). Returns 0; 1 when there is no such file (or it would lead
 * outside, or sha or rel is not well formed); -1 with *e set otherwise.
 */
int dash_artifact_open(const char *artifacts, const char *sha, const char *rel,
		       int *fd, struct stat *st, struct sw_err *e);

/* The entries of the directory fd (which it reads, and does not close),
 * sorted by name, without "." and ".."; free with dash_entries_free. */
int dash_read_dir(int fd, struct dash_entry **v, size_t *nr, struct sw_err *e);
void dash_entries_free(struct dash_entry *v, size_t nr);

#endif
