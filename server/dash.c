/*
 * dash: the dashboard's pages. Markup is built in a struct buf; every
 * value from outside goes through esc() or dash_url_seg().
 */
#include "dash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <linux/openat2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "html.h"
#include "page.h"
#include "xalloc.h"
#include "banned.h"

#define CSRF_LABEL "slipway dashboard csrf v1"

/* What the dashboard adds to the report pages' style (html_css): the
 * stage columns of an execution's page (pipeline/page.c), the forms and
 * the navigation. */
static const char css_extra[] =
	"header.top nav{margin-left:auto;display:flex;gap:14px}\n"
	"header.top nav a{font-weight:600}\n"
	"main h2{font-size:18px;margin:22px 0 10px;padding-bottom:6px;"
	"border-bottom:1px solid var(--line)}\n"
	".stages{display:flex;gap:14px;align-items:flex-start;overflow-x:"
	"auto;padding-bottom:6px}\n"
	".stage{flex:0 0 17em;min-width:0;background:var(--panel);border:1px "
	"solid var(--line);border-radius:6px;padding:8px}\n"
	".stage h2{font-size:14px;margin:2px 0 8px;padding:0;border:0;"
	"display:flex;gap:8px;align-items:center}\n"
	".group{border-left:3px solid var(--line);padding-left:6px;"
	"margin-bottom:8px}\n"
	".action{background:#fff;border:1px solid var(--line);border-radius:"
	"4px;padding:6px 8px;margin:4px 0;overflow-wrap:anywhere}\n"
	".action.st-ok{border-left:4px solid var(--ok-line)}"
	".action.st-bad{border-left:4px solid var(--bad)}"
	".action.st-warn{border-left:4px solid var(--warn-line)}\n"
	".action .name{font-weight:600}.action .type,.action .dur,.action "
	".who,.action .art{color:var(--muted);font-size:12px}\n"
	".action .summary{margin:4px 0;white-space:pre-wrap}\n"
	".action .ext{word-break:break-all}\n"
	"table.vars{width:auto;font-size:12px;margin-top:4px}\n"
	"table.vars th,table.vars td{border:1px solid var(--line);padding:"
	"1px 4px}\n"
	"form.decide{display:flex;flex-wrap:wrap;gap:8px;align-items:center;"
	"margin:6px 0}\n"
	"form.decide input[type=text]{font:inherit;padding:3px 6px;border:"
	"1px solid var(--line);border-radius:6px;min-width:16em}\n"
	"button.approve{color:#fff;background:var(--ok);border-color:"
	"var(--ok)}button.reject{color:#fff;background:var(--bad);"
	"border-color:var(--bad)}\n"
	"form.filter{display:flex;flex-wrap:wrap;gap:10px;align-items:end;"
	"margin:14px 0}form.filter label{display:flex;flex-direction:column;"
	"font-size:12px;color:var(--muted)}\n"
	"form.filter input,form.filter select{font:inherit;padding:3px 6px;"
	"border:1px solid var(--line);border-radius:6px}\n"
	".execs{display:flex;flex-wrap:wrap;gap:6px}\n"
	"pre.log.full{max-height:none;min-height:4em}\n"
	"body.login{max-width:380px;margin:12vh auto;padding:24px 28px;"
	"border:1px solid var(--line);border-top:6px solid var(--skip-line);"
	"border-radius:6px}\n"
	"body.login h1{font-size:20px;margin:0 0 14px}\n"
	"body.login form{display:flex;flex-direction:column;gap:12px}\n"
	"body.login label{display:flex;flex-direction:column;gap:4px;"
	"color:var(--muted);font-size:12px}\n"
	"body.login input{font:inherit;padding:5px 8px;border:1px solid "
	"var(--line);border-radius:6px}\n"
	"body.login .error{color:var(--bad)}\n"
	".live-dot{display:inline-block;width:8px;height:8px;border-radius:"
	"50%;background:var(--warn-line);margin-right:6px}\n";

/*
 * Live updates: <main data-live=URL> gets its new content from the
 * "main" events of URL; <pre data-stream=URL> appends the "log" events
 * and reloads the page at "end" (the build's report replaces its
 * record). Nothing here runs without an EventSource; the page is whole
 * as served.
 */
const char dash_script[] =
	"(function(){\n"
	"'use strict';\n"
	"if(!window.EventSource)return;\n"
	"var log=document.querySelector('pre[data-stream]');\n"
	"if(log){\n"
	" var ls=new EventSource(log.getAttribute('data-stream'));\n"
	" ls.addEventListener('log',function(ev){\n"
	"  log.appendChild(document.createTextNode(ev.data));\n"
	"  log.scrollTop=log.scrollHeight;\n"
	" });\n"
	" ls.addEventListener('end',function(){ls.close();"
	"location.reload();});\n"
	" return;\n"
	"}\n"
	"var m=document.querySelector('main[data-live]');\n"
	"if(!m)return;\n"
	"var es=new EventSource(m.getAttribute('data-live'));\n"
	"es.addEventListener('main',function(ev){\n"
	" var a=document.activeElement;\n"
	" if(a&&a.form&&m.contains(a)&&a.value)return;\n"
	" m.innerHTML=ev.data;\n"
	"});\n"
	"})();\n";

static void esc(struct buf *b, const char *s)
{
	html_escape(b, s ? s : "");
}

static void badge(struct buf *b, const char *status)
{
	buf_addf(b, "<span class=\"badge %s\">", html_status_class(status));
	esc(b, status ? status : "none");
	buf_addstr(b, "</span>");
}

static void when(struct buf *b, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[40];

	if (!ms) {
		buf_addstr(b, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm);
	buf_addstr(b, s);
}

/* A finished span's length; nothing for a running one, so that a page
 * is the same until its records change. */
static void span(struct buf *b, int64_t start, int64_t end)
{
	int64_t ms = end - start;

	if (!start || !end || end < start)
		return;
	if (ms < 1000)
		buf_addf(b, "%" PRId64 " ms", ms);
	else if (ms < 60000)
		buf_addf(b, "%" PRId64 ".%" PRId64 " s", ms / 1000,
			 ms % 1000 / 100);
	else if (ms < 3600000)
		buf_addf(b, "%" PRId64 "m %02" PRId64 "s", ms / 60000,
			 ms % 60000 / 1000);
	else
		buf_addf(b, "%" PRId64 "h %02" PRId64 "m", ms / 3600000,
			 ms % 3600000 / 60000);
}

void dash_url_seg(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~:@", c))
			buf_addch(b, c);
		else
			buf_addf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

/* <a href="PREFIX<seg>">text</a> */
static void a_link(struct buf *b, const char *prefix, const char *seg,
		   const char *text)
{
	buf_addf(b, "<a href=\"%s", prefix);
	dash_url_seg(b, seg);
	buf_addstr(b, "\">");
	esc(b, text);
	buf_addstr(b, "</a>");
}

void dash_style(struct buf *b)
{
	buf_addstr(b, html_css);
	buf_addstr(b, css_extra);
}

void dash_begin(struct buf *b, const struct dash_page *pg)
{
	buf_addstr(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		      "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
		      "content=\"width=device-width,initial-scale=1\">\n"
		      "<link rel=\"icon\" href=\"data:,\">\n"
		      "<title>slipway: ");
	esc(b, pg->title);
	buf_addstr(b, "</title>\n<link rel=\"stylesheet\" "
		      "href=\"/static/dash.css\">\n<script "
		      "src=\"/static/dash.js\" defer></script>\n");
	if (pg->refresh)
		buf_addstr(b, "<noscript><meta http-equiv=\"refresh\" "
			      "content=\"5\"></noscript>\n");
	buf_addf(b, "</head><body>\n<header class=\"top %s\"><div><h1>",
		 html_status_class(pg->status));
	esc(b, pg->title);
	buf_addstr(b, "</h1><div class=\"sub\">slipway dashboard</div></div>");
	if (pg->status)
		badge(b, pg->status);
	buf_addstr(b, "<nav><a href=\"/\">Pipelines</a>"
		      "<a href=\"/history\">History</a></nav></header>\n"
		      "<main id=\"main\"");
	if (pg->live) {
		buf_addstr(b, " data-live=\"");
		esc(b, pg->live);
		buf_addstr(b, "\"");
	}
	buf_addstr(b, ">\n");
}

void dash_end(struct buf *b, const struct dash_page *pg)
{
	(void)pg;
	buf_addstr(b, "</main>\n<footer>slipway " SW_VERSION
		      "</footer>\n</body></html>\n");
}

void dash_message(struct buf *b, const char *title, const char *msg)
{
	buf_addstr(b, "<div class=\"callout\"><strong>");
	esc(b, title);
	buf_addstr(b, "</strong> ");
	esc(b, msg);
	buf_addstr(b, "</div>\n");
}

/* ---- approvals ---- */

static void decide_form(struct buf *b, const struct store_approval *a,
			const char *csrf)
{
	buf_addstr(b, "<div class=\"callout info approval\"><strong>");
	esc(b, a->stage);
	buf_addstr(b, " &#8250; ");
	esc(b, a->action);
	buf_addstr(b, "</strong> is waiting for approval in ");
	a_link(b, "/executions/", a->execution_id, a->execution_id);
	if (a->summary) {
		buf_addstr(b, "<div class=\"summary\">");
		esc(b, a->summary);
		buf_addstr(b, "</div>");
	}
	if (a->expires_ms) {
		buf_addstr(b, "<div class=\"muted\">expires ");
		when(b, a->expires_ms);
		buf_addstr(b, "</div>");
	}
	if (csrf) {
		buf_addstr(b, "<form class=\"decide\" method=\"post\" "
			      "action=\"/executions/");
		dash_url_seg(b, a->execution_id);
		buf_addstr(b, "/approval\"><input type=\"hidden\" "
			      "name=\"csrf\" value=\"");
		esc(b, csrf);
		buf_addstr(b, "\"><input type=\"hidden\" name=\"stage\" "
			      "value=\"");
		esc(b, a->stage);
		buf_addstr(b, "\"><input type=\"hidden\" name=\"action\" "
			      "value=\"");
		esc(b, a->action);
		buf_addstr(b, "\"><input type=\"text\" name=\"summary\" "
			      "maxlength=\"512\" placeholder=\"comment "
			      "(optional)\" aria-label=\"comment\">"
			      "<button type=\"submit\" name=\"decision\" "
			      "value=\"approve\" class=\"approve\">Approve"
			      "</button><button type=\"submit\" "
			      "name=\"decision\" value=\"reject\" "
			      "class=\"reject\">Reject</button></form>");
	}
	buf_addstr(b, "</div>\n");
}

/* ---- the front page ---- */

void dash_pipelines(struct buf *b, const struct dash_pipeline *v, size_t nr,
		    const struct store_approval *waiting, size_t nw,
		    const char *csrf)
{
	if (nw) {
		buf_addstr(b, "<h2>Waiting for approval</h2>\n");
		for (size_t i = 0; i < nw; i++)
			decide_form(b, &waiting[i], csrf);
	}
	buf_addstr(b, "<h2>Pipelines</h2>\n");
	if (!nr) {
		buf_addstr(b, "<p class=\"muted\">No pipeline yet.</p>\n");
		return;
	}
	buf_addstr(b, "<table class=\"pipelines\"><tr><th>Pipeline</th>"
		      "<th>Status</th><th>Last started</th>"
		      "<th>Last executions</th></tr>\n");
	for (size_t i = 0; i < nr; i++) {
		const struct store_execution *x =
			v[i].nr_execs ? v[i].execs : NULL;

		buf_addstr(b, "<tr class=\"pipeline\"><td><strong>");
		a_link(b, "/history?kind=execution&amp;name=", v[i].name,
		       v[i].name);
		buf_addstr(b, "</strong>");
		if (v[i].file) {
			buf_addstr(b, "<div class=\"muted\"><code>");
			esc(b, v[i].file);
			buf_addstr(b, "</code></div>");
		}
		buf_addstr(b, "</td><td>");
		if (x)
			badge(b, x->status);
		else
			buf_addstr(b, "<span class=\"muted\">never run</span>");
		buf_addstr(b, "</td><td class=\"nowrap\">");
		if (x)
			when(b, x->start_ms);
		buf_addstr(b, "</td><td><div class=\"execs\">");
		for (size_t k = 0; k < v[i].nr_execs; k++) {
			const struct store_execution *e = &v[i].execs[k];

			buf_addf(b, "<a class=\"badge %s\" href=\"/executions/",
				 html_status_class(e->status));
			dash_url_seg(b, e->id);
			buf_addstr(b, "\" title=\"");
			esc(b, e->status);
			buf_addstr(b, "\">");
			esc(b, e->id);
			buf_addstr(b, "</a>");
		}
		buf_addstr(b, "</div></td></tr>\n");
	}
	buf_addstr(b, "</table>\n");
}

/* ---- an execution ---- */

static const char *jget(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v) || !v ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static json_object *jobj(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static size_t jlen(json_object *a)
{
	return a && json_object_is_type(a, json_type_array)
		       ? json_object_array_length(a)
		       : 0;
}

static void jset(json_object *o, const char *k, struct buf *v)
{
	json_object_object_add(o, k, json_object_new_string(buf_cstr(v)));
	buf_clear(v);
}

/* The dashboard's links in the page JSON. */
static void relink(json_object *root)
{
	json_object *pe = jobj(root, "pipelineExecution");
	json_object *stages = jobj(root, "stageStates"), *arts;
	const char *id = jget(pe, "pipelineExecutionId");
	struct buf u = BUF_INIT;

	for (size_t s = 0; s < jlen(stages); s++) {
		json_object *so = json_object_array_get_idx(stages, s);
		json_object *acts = jobj(so, "actionStates");

		for (size_t a = 0; a < jlen(acts); a++) {
			json_object *ao = json_object_array_get_idx(acts, a);
			json_object *le = jobj(ao, "latestExecution");
			const char *cat =
				jget(jobj(ao, "actionTypeId"), "category");
			const char *ext = jget(le, "externalExecutionId");
			const char *st = jget(le, "status");

			if (!le)
				continue;
			json_object_object_del(le, "reportHref");
			if (st && !strcmp(st, "InProgress"))
				json_object_object_del(le, "durationMs");
			if (ext && cat &&
			    (!strcmp(cat, "Build") || !strcmp(cat, "Test"))) {
				buf_addstr(&u, "/builds/");
				dash_url_seg(&u, ext);
				jset(le, "reportHref", &u);
			} else if (ext && cat && !strcmp(cat, "Deploy")) {
				buf_addstr(&u, "/deployments/");
				dash_url_seg(&u, ext);
				jset(le, "reportHref", &u);
			}
			if (cat && !strcmp(cat, "Approval"))
				continue;
			buf_addstr(&u, "/executions/");
			dash_url_seg(&u, id);
			buf_addstr(&u, "/actions/");
			dash_url_seg(&u, jget(so, "stageName"));
			buf_addch(&u, '/');
			dash_url_seg(&u, jget(ao, "actionName"));
			jset(le, "logHref", &u);
		}
	}
	arts = jobj(pe, "artifacts");
	for (size_t i = 0; i < jlen(arts); i++) {
		json_object *o = json_object_array_get_idx(arts, i);

		buf_addstr(&u, "/artifacts/");
		dash_url_seg(&u, jget(o, "sha256"));
		buf_addch(&u, '/');
		jset(o, "href", &u);
	}
	buf_release(&u);
}

/* A failed execution's Retry buttons, a running one's Stop buttons. */
static void controls(struct buf *b, const char *id, const char *status,
		     const char *csrf)
{
	bool failed = status && !strcmp(status, "Failed");
	bool running = status && (!strcmp(status, "InProgress") ||
				  !strcmp(status, "Stopping"));

	if (!csrf || !id || (!failed && !running))
		return;
	buf_addstr(b, "<form class=\"decide control\" method=\"post\" "
		      "action=\"/executions/");
	dash_url_seg(b, id);
	buf_addstr(b, failed ? "/retry" : "/stop");
	buf_addstr(b, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	esc(b, csrf);
	buf_addstr(b, "\">");
	if (failed)
		buf_addstr(b, "<button type=\"submit\" name=\"mode\" "
			      "value=\"failed\" class=\"retry\">Retry failed "
			      "actions</button><button type=\"submit\" "
			      "name=\"mode\" value=\"all\" class=\"retry\">"
			      "Retry the stage</button>");
	else
		buf_addstr(b, "<input type=\"text\" name=\"reason\" "
			      "maxlength=\"512\" placeholder=\"reason "
			      "(optional)\" aria-label=\"reason\"><button "
			      "type=\"submit\" name=\"mode\" value=\"finish\" "
			      "class=\"stop\">Stop</button><button "
			      "type=\"submit\" name=\"mode\" "
			      "value=\"abandon\" class=\"reject\" "
			      "title=\"kill the running actions\">Stop and "
			      "abandon</button>");
	buf_addstr(b, "</form>\n");
}

void dash_execution(struct buf *b, json_object *root,
		    const struct store_approval *waiting, size_t nw,
		    const char *csrf)
{
	json_object *pe = jobj(root, "pipelineExecution");
	json_object *tr = jobj(pe, "trigger");

	relink(root);
	buf_addstr(b, "<dl class=\"meta\">\n<dt>pipeline</dt><dd>");
	a_link(b, "/history?kind=execution&amp;name=", jget(pe, "pipelineName"),
	       jget(pe, "pipelineName"));
	buf_addstr(b, "</dd>\n<dt>execution</dt><dd><code>");
	esc(b, jget(pe, "pipelineExecutionId"));
	buf_addstr(b, "</code></dd>\n<dt>status</dt><dd>");
	badge(b, jget(pe, "status"));
	if (jget(pe, "statusSummary")) {
		buf_addstr(b, " ");
		esc(b, jget(pe, "statusSummary"));
	}
	buf_addstr(b, "</dd>\n");
	if (jget(tr, "triggerType")) {
		buf_addstr(b, "<dt>trigger</dt><dd>");
		esc(b, jget(tr, "triggerType"));
		if (jget(tr, "triggerDetail")) {
			buf_addstr(b, " <span class=\"muted\">");
			esc(b, jget(tr, "triggerDetail"));
			buf_addstr(b, "</span>");
		}
		buf_addstr(b, "</dd>\n");
	}
	if (jget(pe, "executionMode")) {
		buf_addstr(b, "<dt>mode</dt><dd>");
		esc(b, jget(pe, "executionMode"));
		buf_addstr(b, "</dd>\n");
	}
	buf_addstr(b, "</dl>\n");
	for (size_t i = 0; i < nw; i++)
		decide_form(b, &waiting[i], csrf);
	controls(b, jget(pe, "pipelineExecutionId"), jget(pe, "status"), csrf);
	buf_addstr(b, "<h2>Stages</h2>\n");
	page_render_stages(root, b);
}

/* ---- logs, builds, deployments ---- */

static void log_block(struct buf *b, const struct dash_log *log)
{
	if (!log)
		return;
	buf_addstr(b, "<h2>");
	if (log->live)
		buf_addstr(b, "<span class=\"live-dot\" title=\"running\">"
			      "</span>");
	buf_addstr(b, "Log");
	if (log->raw) {
		buf_addstr(b, " <a class=\"muted\" href=\"");
		esc(b, log->raw);
		buf_addstr(b, "\">(text)</a>");
	}
	buf_addstr(b, "</h2>\n");
	if (log->truncated)
		buf_addstr(b, "<p class=\"muted\">Earlier output is in the "
			      "text log.</p>\n");
	buf_addf(b,
		 "<pre class=\"log full\" id=\"log\" data-end=\"%" PRId64 "\"",
		 log->end);
	if (log->live && log->stream) {
		buf_addstr(b, " data-stream=\"");
		esc(b, log->stream);
		buf_addstr(b, "\"");
	}
	buf_addstr(b, ">");
	if (log->text) {
		char *t = xstrndup(log->text, log->len);

		esc(b, t);
		free(t);
	}
	buf_addstr(b, "</pre>\n");
}

void dash_build(struct buf *b, const struct store_build *bd,
		const char *report_json, const struct dash_log *log)
{
	struct sw_err e = SW_ERR_INIT;

	if (!report_json || html_render_sections(&report_json, 1, b, &e) < 0) {
		buf_addstr(b, "<section class=\"doc build\"><h2>Build ");
		esc(b, bd->id);
		buf_addstr(b, " ");
		badge(b, bd->status);
		buf_addstr(b, "</h2>\n<dl class=\"meta\">\n");
		buf_addstr(b, "<dt>project</dt><dd>");
		esc(b, bd->project);
		buf_addf(b, "</dd>\n<dt>number</dt><dd>%ld</dd>\n", bd->number);
		buf_addstr(b, "<dt>started</dt><dd>");
		when(b, bd->start_ms);
		buf_addstr(b, "</dd>\n");
		if (bd->source_version) {
			buf_addstr(b, "<dt>source</dt><dd><code>");
			esc(b, bd->source_version);
			buf_addstr(b, "</code></dd>\n");
		}
		if (bd->reason) {
			buf_addstr(b, "<dt>reason</dt><dd>");
			esc(b, bd->reason);
			buf_addstr(b, "</dd>\n");
		}
		buf_addstr(b, "</dl>\n</section>\n");
	}
	log_block(b, log);
}

void dash_deployment(struct buf *b, const struct store_deployment *d,
		     const char *report_json, const struct dash_log *log)
{
	struct sw_err e = SW_ERR_INIT;

	if (!report_json || html_render_sections(&report_json, 1, b, &e) < 0) {
		buf_addstr(b, "<section class=\"doc deployment\"><h2>"
			      "Deployment ");
		esc(b, d->id);
		buf_addstr(b, " ");
		badge(b, d->status);
		buf_addstr(b, "</h2>\n<dl class=\"meta\">\n<dt>application"
			      "</dt><dd>");
		esc(b, d->application);
		buf_addstr(b, "</dd>\n<dt>group</dt><dd>");
		esc(b, d->group);
		buf_addstr(b, "</dd>\n<dt>started</dt><dd>");
		when(b, d->start_ms);
		buf_addstr(b, "</dd>\n");
		if (d->hosts_total >= 0)
			buf_addf(b,
				 "<dt>hosts</dt><dd>%ld of %ld succeeded"
				 "</dd>\n",
				 d->hosts_succeeded, d->hosts_total);
		buf_addstr(b, "</dl>\n</section>\n");
	}
	log_block(b, log);
}

void dash_action_log(struct buf *b, const char *execution_id, const char *stage,
		     const char *action, const char *status,
		     const struct dash_log *log)
{
	buf_addstr(b, "<dl class=\"meta\">\n<dt>execution</dt><dd>");
	a_link(b, "/executions/", execution_id, execution_id);
	buf_addstr(b, "</dd>\n<dt>action</dt><dd>");
	esc(b, stage);
	buf_addstr(b, " &#8250; ");
	esc(b, action);
	buf_addstr(b, "</dd>\n<dt>status</dt><dd>");
	badge(b, status);
	buf_addstr(b, "</dd>\n</dl>\n");
	log_block(b, log);
}

/* ---- history ---- */

struct row {
	const char *kind, *id, *name, *status, *prefix;
	int64_t start, end;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? 1 : -1;
	return strcmp(x->id, y->id);
}

const char *dash_status_for(const char *kind, const char *status)
{
	static const char *const map[][2] = {
		{ "Succeeded", "SUCCEEDED" },
		{ "Failed", "FAILED" },
		{ "InProgress", "IN_PROGRESS" },
		{ "Stopped", "STOPPED" },
	};

	if (!status || !*status)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(status, map[i][0]))
			return kind && !strcmp(kind, "build") ? map[i][1]
							      : map[i][0];
	return status;
}

static void option(struct buf *b, const char *value, const char *label,
		   const char *cur)
{
	buf_addstr(b, "<option value=\"");
	esc(b, value);
	buf_addstr(b, "\"");
	if ((cur ? cur : "")[0] ? !strcmp(cur, value) : !*value)
		buf_addstr(b, " selected");
	buf_addstr(b, ">");
	esc(b, label);
	buf_addstr(b, "</option>");
}

void dash_history(struct buf *b, const struct dash_filter *f,
		  const struct store_execution *x, size_t nx,
		  const struct store_build *bv, size_t nb,
		  const struct store_deployment *dv, size_t nd)
{
	static const char *const statuses[] = { "Succeeded", "Failed",
						"InProgress", "Stopped" };
	struct row *rows = xcalloc(nx + nb + nd + 1, sizeof(*rows));
	size_t n = 0;

	buf_addstr(b, "<form class=\"filter\" method=\"get\" "
		      "action=\"/history\"><label>kind<select name=\"kind\">");
	option(b, "", "all", f->kind);
	option(b, "execution", "pipeline executions", f->kind);
	option(b, "build", "builds", f->kind);
	option(b, "deployment", "deployments", f->kind);
	buf_addstr(b, "</select></label><label>pipeline, project or "
		      "application<input type=\"text\" name=\"name\" "
		      "value=\"");
	esc(b, f->name);
	buf_addstr(b, "\"></label><label>status<select name=\"status\">");
	option(b, "", "any", f->status);
	for (size_t i = 0; i < ARRAY_SIZE(statuses); i++)
		option(b, statuses[i], statuses[i], f->status);
	buf_addstr(b, "</select></label><button type=\"submit\">Filter"
		      "</button></form>\n");
	for (size_t i = 0; i < nx; i++)
		rows[n++] = (struct row){ "execution",	  x[i].id,
					  x[i].pipeline,  x[i].status,
					  "/executions/", x[i].start_ms,
					  x[i].end_ms };
	for (size_t i = 0; i < nb; i++)
		rows[n++] =
			(struct row){ "build",	    bv[i].id,	bv[i].project,
				      bv[i].status, "/builds/", bv[i].start_ms,
				      bv[i].end_ms };
	for (size_t i = 0; i < nd; i++)
		rows[n++] = (struct row){ "deployment",	     dv[i].id,
					  dv[i].application, dv[i].status,
					  "/deployments/",   dv[i].start_ms,
					  dv[i].end_ms };
	qsort(rows, n, sizeof(*rows), row_cmp);
	if (!n) {
		buf_addstr(b, "<p class=\"muted\">Nothing matches.</p>\n");
		free(rows);
		return;
	}
	buf_addstr(b, "<table class=\"history\"><tr><th>Kind</th><th>Id</th>"
		      "<th>Name</th><th>Status</th><th>Started</th>"
		      "<th class=\"num\">Duration</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		buf_addstr(b, "<tr><td>");
		esc(b, rows[i].kind);
		buf_addstr(b, "</td><td><code>");
		a_link(b, rows[i].prefix, rows[i].id, rows[i].id);
		buf_addstr(b, "</code></td><td>");
		esc(b, rows[i].name);
		buf_addstr(b, "</td><td>");
		badge(b, rows[i].status);
		buf_addstr(b, "</td><td class=\"nowrap\">");
		when(b, rows[i].start);
		buf_addstr(b, "</td><td class=\"num\">");
		span(b, rows[i].start, rows[i].end);
		buf_addstr(b, "</td></tr>\n");
	}
	buf_addstr(b, "</table>\n");
	free(rows);
}

/* ---- artifacts ---- */

void dash_listing(struct buf *b, const char *sha, const char *rel,
		  const struct dash_entry *v, size_t nr)
{
	struct buf base = BUF_INIT;
	const char *p;

	buf_addstr(&base, "/artifacts/");
	dash_url_seg(&base, sha);
	buf_addch(&base, '/');
	for (p = rel; p && *p;) {
		const char *slash = strchr(p, '/');
		char *seg =
			slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);

		dash_url_seg(&base, seg);
		buf_addch(&base, '/');
		free(seg);
		p = slash ? slash + 1 : p + strlen(p);
	}
	buf_addstr(b, "<p>artifact <code>");
	esc(b, sha);
	buf_addstr(b, "</code>");
	if (rel && *rel) {
		buf_addstr(b, " &#8250; <code>");
		esc(b, rel);
		buf_addstr(b, "</code> <a href=\"../\">up</a>");
	}
	buf_addstr(b, "</p>\n<table class=\"listing\"><tr><th>Name</th>"
		      "<th class=\"num\">Size</th></tr>\n");
	for (size_t i = 0; i < nr; i++) {
		buf_addstr(b, "<tr><td><code><a href=\"");
		buf_addstr(b, buf_cstr(&base));
		dash_url_seg(b, v[i].name);
		if (v[i].dir)
			buf_addch(b, '/');
		buf_addstr(b, "\">");
		esc(b, v[i].name);
		buf_addstr(b, v[i].dir ? "/" : "");
		buf_addstr(b, "</a></code>");
		if (v[i].link)
			buf_addstr(b, " <span class=\"muted\">(link)</span>");
		buf_addstr(b, "</td><td class=\"num\">");
		if (!v[i].dir)
			buf_addf(b, "%" PRIu64, v[i].size);
		buf_addstr(b, "</td></tr>\n");
	}
	buf_addstr(b, "</table>\n");
	buf_release(&base);
}

bool dash_rel_ok(const char *rel)
{
	const char *p = rel;

	if (!rel)
		return false;
	if (*rel == '/')
		return false;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if (p[i] == '\\' || (unsigned char)p[i] < 0x20)
				return false;
		if (!end)
			break;
		p = end + 1;
	}
	return true;
}

static bool sha_ok(const char *sha)
{
	size_t n = 0;

	for (; sha && sha[n]; n++)
		if (!((sha[n] >= '0' && sha[n] <= '9') ||
		      (sha[n] >= 'a' && sha[n] <= 'f')))
			return false;
	return n == 64;
}

/* rel with no symlink followed: each segment opened O_NOFOLLOW. */
static int open_nofollow(int dfd, const char *rel)
{
	char *copy = xstrdup(rel), *p = copy, *slash;
	int fd = dup(dfd);

	while (fd >= 0 && *p) {
		int next;

		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		next = openat(fd, p,
			      O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
				      (slash && slash[1] ? O_DIRECTORY : 0));
		close(fd);
		fd = next;
		p = slash ? slash + 1 : p + strlen(p);
	}
	free(copy);
	return fd;
}

int dash_artifact_open(const char *artifacts, const char *sha, const char *rel,
		       int *fd, struct stat *st, struct sw_err *e)
{
	char *root;
	int dfd, f = -1;
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	*fd = -1;
	if (!sha_ok(sha) || !dash_rel_ok(rel))
		return 1;
	root = xasprintf("%s/%s", artifacts, sha);
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		int err = errno;

		free(root);
		if (err == ENOENT || err == ENOTDIR || err == ELOOP)
			return 1;
		errno = err;
		return err_sys(e, "%s/%s", artifacts, sha);
	}
	free(root);
	if (!*rel) {
		f = dup(dfd);
	} else {
		f = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
		if (f < 0 && (errno == ENOSYS || errno == E2BIG))
			f = open_nofollow(dfd, rel);
	}
	close(dfd);
	if (f < 0) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP ||
		    errno == EXDEV || errno == EACCES)
			return 1;
		return err_sys(e, "%s", rel);
	}
	if (fstat(f, st) < 0 ||
	    !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
		close(f);
		return 1;
	}
	*fd = f;
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dash_entry *)a)->name,
		      ((const struct dash_entry *)b)->name);
}

int dash_read_dir(int fd, struct dash_entry **v, size_t *nr, struct sw_err *e)
{
	int dfd = dup(fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dash_entry *out = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;

	*v = NULL;
	*nr = 0;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return err_sys(e, "cannot read directory");
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		ALLOC_GROW(out, n + 1, alloc);
		out[n] = (struct dash_entry){ xstrdup(de->d_name),
					      S_ISDIR(st.st_mode),
					      S_ISLNK(st.st_mode),
					      (uint64_t)st.st_size };
		n++;
	}
	closedir(d);
	if (n)
		qsort(out, n, sizeof(*out), entry_cmp);
	*v = out;
	*nr = n;
	return 0;
}

void dash_entries_free(struct dash_entry *v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		free(v[i].name);
	free(v);
}

/* ---- CSRF ---- */

void dash_csrf(const char *secret, char out[DASH_CSRF_HEX])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	HMAC(EVP_sha256(), secret ? secret : "",
	     (int)strlen(secret ? secret : ""),
	     (const unsigned char *)CSRF_LABEL, strlen(CSRF_LABEL), mac, &len);
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[64] = '\0';
}

bool dash_csrf_ok(const char *secret, const char *given)
{
	char want[DASH_CSRF_HEX];

	if (!given || strlen(given) != 64)
		return false;
	dash_csrf(secret, want);
	return CRYPTO_memcmp(want, given, 64) == 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* s[0..n) form-decoded, or NULL. */
static char *form_decode(const char *s, size_t n)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "");
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n || hexval(s[i + 1]) < 0 ||
			    hexval(s[i + 2]) < 0) {
				buf_release(&b);
				return NULL;
			}
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (c == 0) {
			buf_release(&b);
			return NULL;
		}
		buf_addch(&b, c);
	}
	return buf_detach(&b);
}

char *dash_form_get(const char *body, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = body; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);

		if (eq && (size_t)(eq - p) == nl && !memcmp(p, name, nl))
			return form_decode(eq + 1, n - nl - 1);
		p = amp ? amp + 1 : p + n;
	}
	return NULL;
}

/* ---- events ---- */

void dash_sse(struct buf *b, const char *event, const char *data, size_t len)
{
	size_t i = 0;

	buf_addf(b, "event: %s\n", event);
	for (;;) {
		buf_addstr(b, "data: ");
		for (; i < len && data[i] != '\n'; i++)
			if (data[i] != '\r' && data[i] != '\0')
				buf_addch(b, data[i]);
		buf_addch(b, '\n');
		if (i >= len)
			break;
		i++; /* a newline: another line, maybe empty */
	}
	buf_addch(b, '\n');
}

size_t dash_sse_log(struct buf *b, const char *data, size_t len, bool final,
		    int64_t start)
{
	size_t used = len;

	if (!final)
		while (used && data[used - 1] != '\n')
			used--;
	if (!used)
		return 0;
	/* the offset after it: where a reconnecting EventSource resumes */
	buf_addf(b, "id: %" PRId64 "\n", start + (int64_t)used);
	/* a data buffer is the lines joined by newlines: with its last
	 * newline the event's data is the bytes exactly */
	dash_sse(b, "log", data, used);
	return used;
}
