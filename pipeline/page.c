#include <inttypes.h>
#include <string.h>

#include "html.h"
#include "page.h"

static const char *get(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

static void esc(struct buf *b, const char *s)
{
	html_escape(b, s ? s : "");
}

static void badge(struct buf *b, const char *status)
{
	buf_addf(b, "<span class=\"badge %s\">", html_status_class(status));
	esc(b, status ? status : "Not run");
	buf_addstr(b, "</span>");
}

static void duration(struct buf *b, int64_t ms)
{
	if (ms < 1000)
		buf_addf(b, "%" PRId64 " ms", ms);
	else if (ms < 60000)
		buf_addf(b, "%" PRId64 ".%" PRId64 " s", ms / 1000,
			 ms % 1000 / 100);
	else
		buf_addf(b, "%" PRId64 " min %" PRId64 " s", ms / 60000,
			 ms % 60000 / 1000);
}

static void names(struct buf *b, const char *label, json_object *a)
{
	size_t n = a ? json_object_array_length(a) : 0;

	if (!n)
		return;
	buf_addf(b, "<div class=\"art\">%s ", label);
	for (size_t i = 0; i < n; i++) {
		buf_addstr(b, "<code>");
		esc(b, json_object_get_string(json_object_array_get_idx(a, i)));
		buf_addstr(b, "</code> ");
	}
	buf_addstr(b, "</div>\n");
}

static void vars_table(struct buf *b, json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_length(o))
		return;
	buf_addstr(b, "<table class=\"vars\">");
	json_object_object_foreach(o, k, v)
	{
		buf_addstr(b, "<tr><th>");
		esc(b, k);
		buf_addstr(b, "</th><td>");
		esc(b, v ? json_object_get_string(v) : "");
		buf_addstr(b, "</td></tr>");
	}
	buf_addstr(b, "</table>\n");
}

/* The attempts before the latest one, oldest first. */
static void attempts(struct buf *b, json_object *arr)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	json_object *x;

	if (!n)
		return;
	buf_addstr(b, "<div class=\"attempts\">\n");
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *href = get(o, "reportHref");

		buf_addstr(b, "<div class=\"earlier\">attempt ");
		esc(b, get(o, "attempt"));
		buf_addch(b, ' ');
		badge(b, get(o, "status"));
		if (json_object_object_get_ex(o, "durationMs", &x) && x) {
			buf_addstr(b, " <span class=\"dur\">");
			duration(b, json_object_get_int64(x));
			buf_addstr(b, "</span>");
		}
		if (href) {
			buf_addstr(b, " <a class=\"ext\" href=\"");
			esc(b, href);
			buf_addstr(b, "\">");
			esc(b, get(o, "externalExecutionId"));
			buf_addstr(b, "</a>");
		} else if (get(o, "externalExecutionId")) {
			buf_addstr(b, " <span class=\"ext\">");
			esc(b, get(o, "externalExecutionId"));
			buf_addstr(b, "</span>");
		}
		if (get(o, "summary")) {
			buf_addstr(b, "<div class=\"summary\">");
			esc(b, get(o, "summary"));
			buf_addstr(b, "</div>");
		}
		buf_addstr(b, "</div>\n");
	}
	buf_addstr(b, "</div>\n");
}

static void action(struct buf *b, json_object *ao)
{
	json_object *le = NULL, *ty = NULL, *x;
	const char *status, *href, *who, *summary;

	json_object_object_get_ex(ao, "latestExecution", &le);
	json_object_object_get_ex(ao, "actionTypeId", &ty);
	status = get(le, "status");
	buf_addf(b, "<div class=\"action %s\">\n<div class=\"name\">",
		 html_status_class(status));
	esc(b, get(ao, "actionName"));
	buf_addstr(b, "</div>\n<div class=\"type\">");
	esc(b, get(ty, "category"));
	buf_addstr(b, " · ");
	esc(b, get(ty, "provider"));
	buf_addstr(b, "</div>\n<div>");
	badge(b, status);
	if (le && json_object_object_get_ex(le, "durationMs", &x) && x) {
		buf_addstr(b, " <span class=\"dur\">");
		duration(b, json_object_get_int64(x));
		buf_addstr(b, "</span>");
	}
	if (get(le, "attempt")) {
		buf_addstr(b, " <span class=\"attempt\">attempt ");
		esc(b, get(le, "attempt"));
		buf_addstr(b, "</span>");
	}
	buf_addstr(b, "</div>\n");
	x = NULL;
	if (le && json_object_object_get_ex(le, "approval", &x) && x &&
	    status && !strcmp(status, "InProgress") && get(x, "created")) {
		buf_addstr(b, "<div class=\"wait\">waiting since ");
		esc(b, get(x, "created"));
		if (get(x, "expires")) {
			buf_addstr(b, ", expires ");
			esc(b, get(x, "expires"));
		}
		buf_addstr(b, "</div>\n");
	}
	if ((href = get(le, "reportHref"))) {
		buf_addstr(b, "<div><a class=\"ext\" href=\"");
		esc(b, href);
		buf_addstr(b, "\">");
		esc(b, get(le, "externalExecutionId"));
		buf_addstr(b, "</a></div>\n");
	} else if (get(le, "externalExecutionId")) {
		buf_addstr(b, "<div class=\"ext\">");
		esc(b, get(le, "externalExecutionId"));
		buf_addstr(b, "</div>\n");
	}
	if ((href = get(le, "logHref"))) {
		buf_addstr(b, "<div><a class=\"log\" href=\"");
		esc(b, href);
		buf_addstr(b, "\">log</a></div>\n");
	}
	who = get(le, "lastUpdatedBy");
	summary = get(le, "summary");
	if (summary) {
		buf_addstr(b, "<div class=\"summary\">");
		esc(b, summary);
		buf_addstr(b, "</div>\n");
	}
	if (who) {
		buf_addstr(b, "<div class=\"who\">by ");
		esc(b, who);
		buf_addstr(b, "</div>\n");
	}
	x = NULL;
	json_object_object_get_ex(ao, "earlierAttempts", &x);
	attempts(b, x);
	x = NULL;
	json_object_object_get_ex(ao, "inputArtifacts", &x);
	names(b, "in", x);
	x = NULL;
	json_object_object_get_ex(ao, "outputArtifacts", &x);
	names(b, "out", x);
	x = NULL;
	if (le && json_object_object_get_ex(le, "outputVariables", &x))
		vars_table(b, x);
	buf_addstr(b, "</div>\n");
}

static const char css[] =
	"body{font:14px system-ui,sans-serif;margin:1.5em;color:#16191f}"
	"h1{font-size:1.3em}.meta{color:#545b64}"
	".stages{display:flex;gap:1em;align-items:flex-start;overflow-x:auto}"
	".stage{flex:0 0 17em;min-width:0;background:#f2f3f3;"
	"border-radius:6px;padding:.6em}"
	".action{overflow-wrap:anywhere}.action "
	"td,.ext{word-break:break-all}.action th{overflow-wrap:normal}.stage "
	"h2{font-size:1em;margin:.2em 0 "
	".5em}"
	".group{border-left:3px solid #d5dbdb;padding-left:.4em;"
	"margin-bottom:.5em}.action{background:#fff;border:1px solid #d5dbdb;"
	"border-radius:4px;padding:.5em;margin:.3em 0}"
	".action.st-ok{border-left:4px solid #1d8102}"
	".action.st-bad{border-left:4px solid #d13212}"
	".action.st-warn{border-left:4px solid #ff9900}"
	".name{font-weight:600}.type,.dur,.who,.art,.attempt,.wait,"
	".earlier{color:#545b64;"
	"font-size:.9em}.summary{margin:.3em 0;white-space:pre-wrap}"
	".badge{display:inline-block;padding:0 .5em;border-radius:1em;"
	"color:#fff;font-size:.85em}.st-ok "
	".badge,.badge.st-ok{background:#1d8102}"
	".badge.st-bad{background:#d13212}.badge.st-warn{background:#ff9900}"
	".badge.st-skip{background:#879596}"
	"table.vars{border-collapse:collapse;font-size:.85em;margin-top:.3em}"
	"table.vars th,table.vars td{border:1px solid #d5dbdb;padding:1px 4px;"
	"text-align:left}code{font-size:.9em}"
	".attempts{border-top:1px dashed #d5dbdb;margin-top:.3em;"
	"padding-top:.2em}\n";

void page_render_stages(json_object *root, struct buf *b)
{
	json_object *pe = NULL, *stages = NULL, *x;
	size_t ns;

	json_object_object_get_ex(root, "pipelineExecution", &pe);
	json_object_object_get_ex(root, "stageStates", &stages);
	buf_addstr(b, "<div class=\"stages\">\n");
	ns = stages ? json_object_array_length(stages) : 0;
	for (size_t s = 0; s < ns; s++) {
		json_object *so = json_object_array_get_idx(stages, s);
		json_object *le = NULL, *acts = NULL;
		size_t na;
		int prev = -1;

		json_object_object_get_ex(so, "latestExecution", &le);
		json_object_object_get_ex(so, "actionStates", &acts);
		buf_addstr(b, "<div class=\"stage\">\n<h2>");
		esc(b, get(so, "stageName"));
		buf_addstr(b, " ");
		badge(b, get(le, "status"));
		buf_addstr(b, "</h2>\n");
		na = acts ? json_object_array_length(acts) : 0;
		/* actions arrive in declaration order: draw them by
		 * runOrder, one box per group of the same runOrder */
		for (;;) {
			int next = -1;

			for (size_t a = 0; a < na; a++) {
				int ro = 1;

				if (json_object_object_get_ex(
					    json_object_array_get_idx(acts, a),
					    "runOrder", &x))
					ro = json_object_get_int(x);
				if (ro > prev && (next < 0 || ro < next))
					next = ro;
			}
			if (next < 0)
				break;
			buf_addf(
				b,
				"<div class=\"group\" data-run-order=\"%d\">\n",
				next);
			for (size_t a = 0; a < na; a++) {
				json_object *ao =
					json_object_array_get_idx(acts, a);
				int ro = 1;

				if (json_object_object_get_ex(ao, "runOrder",
							      &x))
					ro = json_object_get_int(x);
				if (ro == next)
					action(b, ao);
			}
			buf_addstr(b, "</div>\n");
			prev = next;
		}
		buf_addstr(b, "</div>\n");
	}
	buf_addstr(b, "</div>\n");
	x = NULL;
	if (json_object_object_get_ex(pe, "artifacts", &x) && x &&
	    json_object_array_length(x)) {
		buf_addstr(b, "<h2>Artifacts</h2>\n<table class=\"vars\" "
			      "id=\"artifacts\">");
		for (size_t i = 0; i < json_object_array_length(x); i++) {
			json_object *v = json_object_array_get_idx(x, i);

			buf_addstr(b, "<tr><th>");
			esc(b, get(v, "name"));
			buf_addstr(b, "</th><td><code>");
			if (get(v, "href")) {
				buf_addstr(b, "<a href=\"");
				esc(b, get(v, "href"));
				buf_addstr(b, "\">");
			}
			esc(b, get(v, "sha256"));
			buf_addstr(b, get(v, "href") ? "</a>" : "");
			buf_addstr(b, "</code></td></tr>");
		}
		buf_addstr(b, "</table>\n");
	}
	x = NULL;
	if (json_object_object_get_ex(pe, "variables", &x) && x &&
	    json_object_array_length(x)) {
		buf_addstr(b, "<h2>Variables</h2>\n<table class=\"vars\">");
		for (size_t i = 0; i < json_object_array_length(x); i++) {
			json_object *v = json_object_array_get_idx(x, i);

			buf_addstr(b, "<tr><th>");
			esc(b, get(v, "name"));
			buf_addstr(b, "</th><td>");
			esc(b, get(v, "resolvedValue"));
			buf_addstr(b, "</td></tr>");
		}
		buf_addstr(b, "</table>\n");
	}
}

void page_render(json_object *root, struct buf *b)
{
	json_object *pe = NULL;

	json_object_object_get_ex(root, "pipelineExecution", &pe);
	buf_addstr(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		      "<meta charset=\"utf-8\">\n<title>");
	esc(b, get(pe, "pipelineName"));
	buf_addstr(b, " ");
	esc(b, get(pe, "pipelineExecutionId"));
	buf_addf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", css);
	esc(b, get(pe, "pipelineName"));
	buf_addstr(b, " ");
	badge(b, get(pe, "status"));
	buf_addstr(b, "</h1>\n<p class=\"meta\">execution <code>");
	esc(b, get(pe, "pipelineExecutionId"));
	buf_addstr(b, "</code>");
	if (get(pe, "executionMode")) {
		buf_addstr(b, " · ");
		esc(b, get(pe, "executionMode"));
	}
	if (get(pe, "statusSummary")) {
		buf_addstr(b, " · ");
		esc(b, get(pe, "statusSummary"));
	}
	buf_addstr(b, "</p>\n");
	page_render_stages(root, b);
	buf_addstr(b, "</body>\n</html>\n");
}
