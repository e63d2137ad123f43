/*
 * html: reports as one self-contained page. The page is built in a
 * struct buf: CSS and script are constants below, everything that comes
 * from a report goes through html_escape().
 */
#include "html.h"

#include <ctype.h>
#include <json-c/json.h>
#include <libgen.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fs.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

#define HTML_MAX_JSON (64 << 20)

const char html_css[] =
	":root{--ok:#1a7f37;--ok-bg:#dafbe1;--ok-line:#4ac26b;"
	"--bad:#cf222e;--bad-bg:#ffebe9;--bad-line:#ff8182;"
	"--warn:#9a6700;--warn-bg:#fff8c5;--warn-line:#d4a72c;"
	"--skip:#6e7781;--skip-bg:#eaeef2;--skip-line:#afb8c1;"
	"--fg:#1f2328;--muted:#656d76;--line:#d8dee4;--panel:#f6f8fa}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;color:var(--fg);background:#fff;font:14px/1.45 "
	"system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\","
	"Arial,sans-serif}\n"
	"code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,"
	"Consolas,\"Liberation Mono\",monospace;font-size:12px}\n"
	"a{color:#0969da;text-decoration:none}a:hover{text-decoration:"
	"underline}\n"
	"header.top{display:flex;align-items:center;gap:14px;padding:18px "
	"32px;border-top:6px solid var(--skip-line);border-bottom:1px solid "
	"var(--line);background:var(--panel)}\n"
	"header.top.st-ok{border-top-color:var(--ok)}"
	"header.top.st-bad{border-top-color:var(--bad)}"
	"header.top.st-warn{border-top-color:var(--warn-line)}\n"
	"header.top h1{font-size:20px;margin:0;font-weight:600}\n"
	"header.top .sub{color:var(--muted);font-size:13px}\n"
	"header.top .tools{margin-left:auto}\n"
	"button{font:inherit;font-size:12px;padding:3px 10px;border:1px "
	"solid var(--line);border-radius:6px;background:#fff;cursor:"
	"pointer}\n"
	"main{max-width:1240px;margin:0 auto;padding:8px 32px 48px}\n"
	"section.doc{margin:22px 0 34px}\n"
	"section.doc>h2{display:flex;align-items:center;gap:10px;"
	"font-size:18px;margin:0 0 10px;padding-bottom:6px;border-bottom:"
	"1px solid var(--line)}\n"
	"h3{font-size:12px;text-transform:uppercase;letter-spacing:.05em;"
	"color:var(--muted);margin:20px 0 6px}\n"
	".badge{display:inline-block;padding:1px 9px;border-radius:999px;"
	"font-size:12px;font-weight:600;border:1px solid;white-space:nowrap;"
	"vertical-align:middle}\n"
	".badge.st-ok{color:var(--ok);background:var(--ok-bg);border-color:"
	"var(--ok-line)}"
	".badge.st-bad{color:var(--bad);background:var(--bad-bg);"
	"border-color:var(--bad-line)}"
	".badge.st-warn{color:var(--warn);background:var(--warn-bg);"
	"border-color:var(--warn-line)}"
	".badge.st-skip{color:var(--skip);background:var(--skip-bg);"
	"border-color:var(--skip-line)}\n"
	"dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px "
	"18px;margin:0}dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;"
	"overflow-wrap:anywhere}\n"
	"table{border-collapse:collapse;width:100%}\n"
	"th,td{padding:4px 8px;border-bottom:1px solid var(--line);"
	"text-align:left;vertical-align:middle}\n"
	"th{font-size:12px;font-weight:600;color:var(--muted);background:"
	"var(--panel)}\n"
	"td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;"
	"white-space:nowrap}\n"
	"td.digest{font-family:ui-monospace,Menlo,Consolas,monospace;"
	"font-size:11px;overflow-wrap:anywhere;color:var(--muted)}\n"
	".track{position:relative;height:14px;min-width:320px;background:"
	"var(--panel);border-radius:3px}\n"
	".bar{position:absolute;top:0;bottom:0;min-width:2px;border-radius:"
	"3px}\n"
	".bar.st-ok,.seg.st-ok{background:var(--ok-line)}"
	".bar.st-bad,.seg.st-bad{background:var(--bad)}"
	".bar.st-warn,.seg.st-warn{background:var(--warn-line)}"
	".bar.st-skip,.seg.st-skip{background:var(--skip-line)}\n"
	".stack{display:flex;height:12px;border-radius:3px;overflow:hidden;"
	"background:var(--panel);min-width:240px}.seg{height:100%}\n"
	"td.ctx{color:var(--muted);font-size:12px}\n"
	"table.grid td.cell{text-align:center;font-size:12px;white-space:"
	"nowrap;border-left:2px solid #fff;position:relative}\n"
	"table.grid th.ev{text-align:center;font-size:11px}\n"
	"td.cell.st-ok{background:var(--ok-bg);color:var(--ok)}"
	"td.cell.st-bad{background:var(--bad-bg);color:var(--bad)}"
	"td.cell.st-warn{background:var(--warn-bg);color:var(--warn)}"
	"td.cell.st-skip{background:var(--skip-bg);color:var(--skip)}"
	"td.cell.none{background:#fff}\n"
	"details.diag>summary{cursor:pointer;font-weight:600;list-style:"
	"none}details.diag>summary::-webkit-details-marker{display:none}\n"
	"details.diag>summary::after{content:\" \\25B8\"}"
	"details.diag[open]>summary::after{content:\" \\25BE\"}\n"
	"details.diag>.panel{position:static;margin-top:4px;min-width:260px;"
	"max-width:min(620px,70vw);text-align:left;white-space:normal;color:"
	"var(--fg);background:#fff;border:1px solid var(--line);"
	"border-top:3px solid var(--bad);border-radius:6px;box-shadow:0 8px "
	"24px rgba(31,35,40,.18);padding:10px 12px;font-size:13px}\n"
	"body.sw-all details.diag>.panel{box-shadow:none}\n"
	"@media print{details.diag>.panel{position:static;width:auto;"
	"box-shadow:none}}\n"
	"pre.log{margin:8px 0 0;background:#0d1117;color:#e6edf3;padding:"
	"8px 10px;border-radius:4px;max-height:320px;overflow:auto;"
	"white-space:pre-wrap;overflow-wrap:anywhere}\n"
	".callout{margin:10px 0;padding:8px 12px;border-left:4px solid "
	"var(--bad);background:var(--bad-bg);border-radius:4px}\n"
	".callout.info{border-left-color:#0969da;background:#ddf4ff}\n"
	".muted{color:var(--muted)}.nowrap{white-space:nowrap}\n"
	"ul.fails{margin:6px 0;padding-left:18px}ul.fails li{margin:2px 0}\n"
	".counts span{margin-right:12px;white-space:nowrap}\n"
	"footer{color:var(--muted);font-size:12px;text-align:center;"
	"padding:12px}\n";

/* Open the cell a failure link points to; Escape closes them all; one
 * diagnostics panel open at a time; the header's expand/collapse. */
static const char script[] =
	"(function(){\n"
	"function all(){return document.querySelectorAll('details.diag');}\n"
	"document.addEventListener('click',function(ev){\n"
	" var a=ev.target.closest?ev.target.closest('a[data-open]'):null;\n"
	" if(!a)return;\n"
	" var d=document.getElementById(a.getAttribute('data-open'));\n"
	" if(d){d.open=true;}\n"
	"});\n"
	"document.addEventListener('toggle',function(ev){\n"
	" var t=ev.target;\n"
	" if(!t.open||!t.classList||!t.classList.contains('diag')||"
	"window.swAll)return;\n"
	" all().forEach(function(d){if(d!==t)d.open=false;});\n"
	"},true);\n"
	"document.addEventListener('keydown',function(ev){\n"
	" if(ev.key==='Escape')all().forEach(function(d){d.open=false;});\n"
	"});\n"
	"var b=document.getElementById('sw-toggle');\n"
	"if(b)b.addEventListener('click',function(){\n"
	" window.swAll=!window.swAll;\n"
	" document.body.classList.toggle('sw-all',window.swAll);\n"
	" all().forEach(function(d){d.open=window.swAll;});\n"
	" b.textContent=window.swAll?'Close diagnostics':"
	"'Open all diagnostics';\n"
	"});\n"
	"})();\n";

/* CodeDeploy's lifecycle events in the order they run. */
static const char *const event_order[] = {
	"ApplicationStop",   "BeforeBlockTraffic", "BlockTraffic",
	"AfterBlockTraffic", "DownloadBundle",	   "BeforeInstall",
	"Install",	     "AfterInstall",	   "ApplicationStart",
	"ValidateService",   "BeforeAllowTraffic", "AllowTraffic",
	"AfterAllowTraffic",
};

enum kind { K_NONE, K_BUILD, K_DEPLOY, K_RUN };

struct page {
	struct buf *b;
	struct strvec dep_ids; /* deployments on the page: link targets */
	unsigned seq; /* for element ids */
};

void html_escape(struct buf *b, const char *s)
{
	if (!s)
		return;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&':
			buf_addstr(b, "&amp;");
			break;
		case '<':
			buf_addstr(b, "&lt;");
			break;
		case '>':
			buf_addstr(b, "&gt;");
			break;
		case '"':
			buf_addstr(b, "&quot;");
			break;
		case '\'':
			buf_addstr(b, "&#39;");
			break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				break;
			buf_addch(b, c);
		}
	}
}

const char *html_status_class(const char *status)
{
	static const char *const ok[] = { "succeeded", NULL };
	static const char *const bad[] = { "failed", "fault", "error",
					   "clienterror", NULL };
	static const char *const warn[] = {
		"inprogress", "timedout", "stopped",	"stopping",   "baking",
		"queued",     "created",  "generating", "incomplete", NULL
	};
	char n[32];
	size_t len = 0;

	if (!status)
		return "st-skip";
	for (const char *p = status; *p && len + 1 < sizeof(n); p++)
		if (*p != '_' && *p != ' ' && *p != '-')
			n[len++] = (char)tolower((unsigned char)*p);
	n[len] = '\0';
	for (size_t i = 0; ok[i]; i++)
		if (!strcmp(n, ok[i]))
			return "st-ok";
	for (size_t i = 0; bad[i]; i++)
		if (!strcmp(n, bad[i]))
			return "st-bad";
	for (size_t i = 0; warn[i]; i++)
		if (!strcmp(n, warn[i]))
			return "st-warn";
	return "st-skip";
}

/* ---- reading the JSON ---- */

static json_object *jobj(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

/* A string field (numbers as their text), or NULL when absent or null. */
static const char *jstr(json_object *o, const char *k)
{
	json_object *v = jobj(o, k);

	if (!v || json_object_is_type(v, json_type_object) ||
	    json_object_is_type(v, json_type_array))
		return NULL;
	return json_object_get_string(v);
}

static bool jnum(json_object *o, const char *k, double *d)
{
	json_object *v = jobj(o, k);

	if (!v || !(json_object_is_type(v, json_type_double) ||
		    json_object_is_type(v, json_type_int)))
		return false;
	*d = json_object_get_double(v);
	return true;
}

static size_t jlen(json_object *a)
{
	return a && json_object_is_type(a, json_type_array)
		       ? json_object_array_length(a)
		       : 0;
}

static json_object *jat(json_object *a, size_t i)
{
	json_object *v = json_object_array_get_idx(a, i);

	return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

static enum kind kind_of(json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return K_NONE;
	if (jobj(o, "runId"))
		return K_RUN;
	if (jobj(o, "deploymentId"))
		return K_DEPLOY;
	if (jobj(o, "buildStatus") || jobj(o, "phases"))
		return K_BUILD;
	return K_NONE;
}

static const char *doc_status(json_object *o)
{
	switch (kind_of(o)) {
	case K_BUILD:
		return jstr(o, "buildStatus");
	default:
		return jstr(o, "status");
	}
}

/* ---- small pieces of markup ---- */

static void text(struct page *pg, const char *s)
{
	html_escape(pg->b, s);
}

static void badge(struct page *pg, const char *status)
{
	buf_addf(pg->b, "<span class=\"badge %s\">", html_status_class(status));
	text(pg, status ? status : "none");
	buf_addstr(pg->b, "</span>");
}

static void fmt_dur(char *out, size_t n, double secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 1)
		snprintf(out, n, "%.0f ms", secs * 1000);
	else if (secs < 60)
		snprintf(out, n, "%.1f s", secs);
	else if (secs < 3600)
		snprintf(out, n, "%dm %02ds", (int)secs / 60, (int)secs % 60);
	else
		snprintf(out, n, "%dh %02dm", (int)secs / 3600,
			 (int)secs / 60 % 60);
}

static void fmt_size(char *out, size_t n, double bytes)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%.0f B", bytes);
	else
		snprintf(out, n, "%.1f %s", bytes, unit[u]);
}

static void fmt_when(char *out, size_t n, double epoch)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* <dt>label</dt><dd>value</dd> when value is set. */
static void meta(struct page *pg, const char *label, const char *value,
		 bool mono)
{
	if (!value || !*value)
		return;
	buf_addf(pg->b, "<dt>%s</dt><dd>%s", label, mono ? "<code>" : "");
	text(pg, value);
	buf_addf(pg->b, "%s</dd>\n", mono ? "</code>" : "");
}

static void meta_times(struct page *pg, json_object *o, const char *endk)
{
	double s, en;
	char when[40], dur[32];

	if (!jnum(o, "startTime", &s))
		return;
	fmt_when(when, sizeof(when), s);
	meta(pg, "started", when, false);
	if (jnum(o, endk, &en)) {
		fmt_dur(dur, sizeof(dur), en - s);
		meta(pg, "duration", dur, false);
	}
}

/* A bar at [from, to] of [t0, t0 + span] (seconds). */
static void bar(struct page *pg, double t0, double span, double from, double to,
		const char *status)
{
	double l = span > 0 ? (from - t0) / span * 100 : 0;
	double w = span > 0 ? (to - from) / span * 100 : 100;

	if (!isfinite(l) || l < 0)
		l = 0;
	if (l > 100)
		l = 100;
	if (!isfinite(w) || w < 0)
		w = 0;
	if (l + w > 100)
		w = 100 - l;
	buf_addf(pg->b,
		 "<div class=\"track\"><div class=\"bar %s\" "
		 "style=\"left:%.2f%%;width:%.2f%%\"></div></div>",
		 html_status_class(status), l, w);
}

/* ---- a build ---- */

static void build_phases(struct page *pg, json_object *o)
{
	json_object *phases = jobj(o, "phases");
	double t0 = 0, t1 = 0, s, en;
	bool any = false;

	for (size_t i = 0; i < jlen(phases); i++) {
		json_object *p = jat(phases, i);

		if (!jnum(p, "startTime", &s))
			continue;
		if (!jnum(p, "endTime", &en))
			en = s;
		if (!any || s < t0)
			t0 = s;
		if (!any || en > t1)
			t1 = en;
		any = true;
	}
	if (!any)
		return;
	buf_addstr(pg->b, "<h3>Phases</h3>\n<table class=\"phases\">"
			  "<tr><th>Phase</th><th>Status</th>"
			  "<th class=\"num\">Duration</th>"
			  "<th style=\"width:45%\">Timeline</th>"
			  "<th>Context</th></tr>\n");
	for (size_t i = 0; i < jlen(phases); i++) {
		json_object *p = jat(phases, i), *ctx;
		const char *st = jstr(p, "phaseStatus"), *msg = NULL;
		char dur[32] = "";

		/* CodeBuild's COMPLETED: a start, no status, no end */
		if (!p || !st || !jnum(p, "startTime", &s))
			continue;
		if (!jnum(p, "endTime", &en))
			en = s;
		else
			fmt_dur(dur, sizeof(dur), en - s);
		ctx = jobj(p, "contexts");
		if (jlen(ctx)) {
			json_object *c = jat(ctx, jlen(ctx) - 1);

			msg = jstr(c, "message");
			if (msg && !*msg)
				msg = jstr(c, "statusCode");
		}
		buf_addstr(pg->b, "<tr><td><code>");
		text(pg, jstr(p, "phaseType"));
		buf_addstr(pg->b, "</code></td><td>");
		badge(pg, st);
		buf_addf(pg->b, "</td><td class=\"num\">%s</td><td>", dur);
		bar(pg, t0, t1 - t0, s, en, st);
		buf_addstr(pg->b, "</td><td class=\"ctx\">");
		text(pg, msg);
		buf_addstr(pg->b, "</td></tr>\n");
	}
	buf_addstr(pg->b, "</table>\n");
}

static void test_summary(struct page *pg, json_object *rep, json_object *s)
{
	static const char *const cases[] = { "SUCCEEDED", "FAILED", "ERROR",
					     "SKIPPED", "UNKNOWN" };
	json_object *counts = jobj(s, "statusCounts");
	double total = 0, v, ns;
	char dur[32] = "";

	jnum(s, "total", &total);
	if (jnum(s, "durationInNanoSeconds", &ns) && ns > 0)
		fmt_dur(dur, sizeof(dur), ns / 1e9);
	buf_addf(pg->b, "<td class=\"num\">%.0f</td><td class=\"counts\">",
		 total);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		if (jnum(counts, cases[i], &v) && v > 0)
			buf_addf(pg->b,
				 "<span><span class=\"badge %s\">%.0f</span> "
				 "%s</span>",
				 html_status_class(cases[i]), v, cases[i]);
	buf_addstr(pg->b, "</td><td><div class=\"stack\">");
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
		if (total > 0 && jnum(counts, cases[i], &v) && v > 0)
			buf_addf(pg->b,
				 "<div class=\"seg %s\" style=\"width:%.2f%%\" "
				 "title=\"%.0f %s\"></div>",
				 html_status_class(cases[i]), v / total * 100,
				 v, cases[i]);
	buf_addf(pg->b, "</div></td><td class=\"num\">%s</td>", dur);
	(void)rep;
}

static void report_failures(struct page *pg, json_object *rep)
{
	json_object *fails = jobj(rep, "failures");
	size_t n = jlen(fails);

	if (!n)
		return;
	buf_addf(pg->b,
		 "<tr><td colspan=\"6\"><details><summary>%zu failing "
		 "case%s</summary><ul class=\"fails\">",
		 n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		json_object *f = jat(fails, i);

		buf_addstr(pg->b, "<li>");
		badge(pg, jstr(f, "status"));
		buf_addstr(pg->b, " <code>");
		if (jstr(f, "suite")) {
			text(pg, jstr(f, "suite"));
			buf_addstr(pg->b, " &#8250; ");
		}
		text(pg, jstr(f, "name"));
		buf_addstr(pg->b, "</code>");
		if (jstr(f, "message")) {
			buf_addstr(pg->b, "<pre class=\"log\">");
			text(pg, jstr(f, "message"));
			buf_addstr(pg->b, "</pre>");
		}
		buf_addstr(pg->b, "</li>");
	}
	buf_addstr(pg->b, "</ul></details></td></tr>\n");
}

static void build_reports(struct page *pg, json_object *o)
{
	json_object *reps = jobj(o, "reports");

	if (!jlen(reps))
		return;
	buf_addstr(pg->b, "<h3>Test and coverage reports</h3>\n"
			  "<table class=\"reports\"><tr><th>Report</th>"
			  "<th>Status</th><th class=\"num\">Total</th>"
			  "<th>Results</th><th></th>"
			  "<th class=\"num\">Duration</th></tr>\n");
	for (size_t i = 0; i < jlen(reps); i++) {
		json_object *rep = jat(reps, i), *s;
		const char *name = jstr(rep, "reportGroupName");

		if (!rep)
			continue;
		buf_addstr(pg->b, "<tr><td><code>");
		text(pg, name ? name : jstr(rep, "name"));
		buf_addstr(pg->b, "</code></td><td>");
		badge(pg, jstr(rep, "status"));
		buf_addstr(pg->b, "</td>");
		if ((s = jobj(rep, "testSummary"))) {
			test_summary(pg, rep, s);
		} else if ((s = jobj(rep, "codeCoverageSummary"))) {
			double lp = 0, bp = 0;

			jnum(s, "lineCoveragePercentage", &lp);
			jnum(s, "branchCoveragePercentage", &bp);
			buf_addf(pg->b,
				 "<td></td><td>lines %.2f%%, branches "
				 "%.2f%%</td><td><div class=\"stack\"><div "
				 "class=\"seg st-ok\" style=\"width:%.2f%%\">"
				 "</div></div></td><td></td>",
				 lp, bp, lp >= 0 && lp <= 100 ? lp : 0);
		} else {
			buf_addstr(pg->b, "<td colspan=\"4\"></td>");
		}
		buf_addstr(pg->b, "</tr>\n");
		report_failures(pg, rep);
	}
	buf_addstr(pg->b, "</table>\n");
}

static void artifact_row(struct page *pg, json_object *a, const char *name)
{
	double size, files;
	char sz[32] = "";

	if (!a)
		return;
	if (jnum(a, "sizeInBytes", &size))
		fmt_size(sz, sizeof(sz), size);
	buf_addstr(pg->b, "<tr><td><code>");
	text(pg, name);
	buf_addstr(pg->b, "</code></td><td><code>");
	text(pg, jstr(a, "location"));
	buf_addstr(pg->b, "</code></td><td>");
	text(pg, jstr(a, "packaging"));
	buf_addstr(pg->b, "</td><td class=\"num\">");
	if (jnum(a, "files", &files))
		buf_addf(pg->b, "%.0f", files);
	buf_addf(pg->b, "</td><td class=\"num\" title=\"%.0f bytes\">%s</td>",
		 jnum(a, "sizeInBytes", &size) ? size : 0, sz);
	buf_addstr(pg->b, "<td class=\"digest\">sha256 ");
	text(pg, jstr(a, "sha256sum"));
	buf_addstr(pg->b, "<br>md5 ");
	text(pg, jstr(a, "md5sum"));
	buf_addstr(pg->b, "</td></tr>\n");
}

static void build_artifacts(struct page *pg, json_object *o)
{
	json_object *prim = jobj(o, "artifacts"),
		    *sec = jobj(o, "secondaryArtifacts");

	if (!prim && !jlen(sec))
		return;
	buf_addstr(pg->b, "<h3>Artifacts</h3>\n<table class=\"artifacts\">"
			  "<tr><th>Name</th><th>Location</th><th>Packaging"
			  "</th><th class=\"num\">Files</th>"
			  "<th class=\"num\">Size</th><th>Digests</th></tr>\n");
	if (prim && jstr(prim, "location"))
		artifact_row(pg, prim, "(primary)");
	for (size_t i = 0; i < jlen(sec); i++) {
		json_object *a = jat(sec, i);

		artifact_row(pg, a, jstr(a, "artifactIdentifier"));
	}
	buf_addstr(pg->b, "</table>\n");
}

static void build_exported(struct page *pg, json_object *o)
{
	json_object *vars = jobj(o, "exportedEnvironmentVariables");

	if (!jlen(vars))
		return;
	buf_addstr(pg->b, "<h3>Exported variables</h3>\n<table>"
			  "<tr><th>Name</th><th>Value</th></tr>\n");
	for (size_t i = 0; i < jlen(vars); i++) {
		json_object *v = jat(vars, i);

		buf_addstr(pg->b, "<tr><td><code>");
		text(pg, jstr(v, "name"));
		buf_addstr(pg->b, "</code></td><td><code>");
		text(pg, jstr(v, "value"));
		buf_addstr(pg->b, "</code></td></tr>\n");
	}
	buf_addstr(pg->b, "</table>\n");
}

static void render_build(struct page *pg, json_object *o)
{
	json_object *src = jobj(o, "source"), *cache = jobj(o, "cache");
	const char *num = jstr(o, "buildNumber");

	buf_addf(pg->b, "<section class=\"doc build\" id=\"b%u\"><h2>Build ",
		 pg->seq++);
	text(pg, jstr(o, "projectName"));
	if (num) {
		buf_addstr(pg->b, " <span class=\"muted\">#");
		text(pg, num);
		buf_addstr(pg->b, "</span>");
	}
	buf_addch(pg->b, ' ');
	badge(pg, jstr(o, "buildStatus"));
	buf_addstr(pg->b, "</h2>\n<dl class=\"meta\">\n");
	meta(pg, "id", jstr(o, "id"), true);
	meta_times(pg, o, "endTime");
	meta(pg, "source", jstr(src, "location"), true);
	meta(pg, "buildspec", jstr(src, "buildspec"), true);
	meta(pg, "commit", jstr(o, "resolvedSourceVersion"), true);
	meta(pg, "initiator", jstr(o, "initiator"), false);
	meta(pg, "cache", jstr(cache, "type"), false);
	meta(pg, "log", jstr(jobj(o, "logs"), "location"), true);
	buf_addstr(pg->b, "</dl>\n");
	build_phases(pg, o);
	build_reports(pg, o);
	build_artifacts(pg, o);
	build_exported(pg, o);
	buf_addstr(pg->b, "</section>\n");
}

/* ---- a deployment ---- */

static void dep_link(struct page *pg, const char *id)
{
	bool here = false;

	for (size_t i = 0; i < pg->dep_ids.nr; i++)
		if (!strcmp(pg->dep_ids.v[i], id))
			here = true;
	if (here) {
		buf_addstr(pg->b, "<a href=\"#dep-");
		text(pg, id);
		buf_addstr(pg->b, "\"><code>");
		text(pg, id);
		buf_addstr(pg->b, "</code></a>");
	} else {
		buf_addstr(pg->b, "<code>");
		text(pg, id);
		buf_addstr(pg->b, "</code>");
	}
}

/* The lifecycle events any host has, in the order they run (names this
 * version does not know last, as they come). */
static void dep_events(json_object *insts, struct strvec *evs)
{
	struct strvec seen = STRVEC_INIT;
	size_t nk = sizeof(event_order) / sizeof(*event_order);

	for (size_t i = 0; i < jlen(insts); i++) {
		json_object *list = jobj(jat(insts, i), "lifecycleEvents");

		for (size_t j = 0; j < jlen(list); j++) {
			const char *n =
				jstr(jat(list, j), "lifecycleEventName");
			bool dup = false;

			if (!n)
				continue;
			for (size_t k = 0; k < seen.nr && !dup; k++)
				dup = !strcmp(seen.v[k], n);
			if (!dup)
				strvec_push(&seen, n);
		}
	}
	for (size_t k = 0; k < nk; k++)
		for (size_t i = 0; i < seen.nr; i++)
			if (!strcmp(seen.v[i], event_order[k]))
				strvec_push(evs, event_order[k]);
	for (size_t i = 0; i < seen.nr; i++) {
		bool known = false;

		for (size_t k = 0; k < nk && !known; k++)
			known = !strcmp(seen.v[i], event_order[k]);
		if (!known)
			strvec_push(evs, seen.v[i]);
	}
	strvec_release(&seen);
}

static json_object *find_event(json_object *inst, const char *name)
{
	json_object *list = jobj(inst, "lifecycleEvents");

	for (size_t j = 0; j < jlen(list); j++) {
		json_object *ev = jat(list, j);
		const char *n = jstr(ev, "lifecycleEventName");

		if (n && !strcmp(n, name))
			return ev;
	}
	return NULL;
}

static void diag_panel(struct page *pg, json_object *dg, const char *msg)
{
	buf_addstr(pg->b, "<div class=\"panel\">");
	if (jstr(dg, "errorCode")) {
		buf_addstr(pg->b, "<strong>");
		text(pg, jstr(dg, "errorCode"));
		buf_addstr(pg->b, "</strong>");
	}
	if (jstr(dg, "scriptName")) {
		buf_addstr(pg->b, " <span class=\"muted\">in</span> <code>");
		text(pg, jstr(dg, "scriptName"));
		buf_addstr(pg->b, "</code>");
	}
	if (jstr(dg, "message") || msg) {
		buf_addstr(pg->b, "<div class=\"msg\">");
		text(pg, jstr(dg, "message") ? jstr(dg, "message") : msg);
		buf_addstr(pg->b, "</div>");
	}
	if (jstr(dg, "logTail") && *jstr(dg, "logTail")) {
		buf_addstr(pg->b, "<pre class=\"log\">");
		text(pg, jstr(dg, "logTail"));
		buf_addstr(pg->b, "</pre>");
	}
	buf_addstr(pg->b, "</div>");
}

static void grid_cell(struct page *pg, json_object *ev, unsigned id, bool right)
{
	const char *st = jstr(ev, "status");
	json_object *dg = jobj(ev, "diagnostics");
	double s, en;
	char dur[32] = "";

	if (!ev) {
		buf_addstr(pg->b, "<td class=\"cell none\"></td>");
		return;
	}
	if (jnum(ev, "startTime", &s) && jnum(ev, "endTime", &en))
		fmt_dur(dur, sizeof(dur), en - s);
	buf_addf(pg->b, "<td class=\"cell %s%s\" title=\"",
		 html_status_class(st), right ? " r" : "");
	text(pg, st);
	buf_addstr(pg->b, "\">");
	if (dg) {
		buf_addf(pg->b,
			 "<details class=\"diag\" id=\"diag%u\"><summary>", id);
		text(pg, st);
		buf_addstr(pg->b, "</summary>");
		diag_panel(pg, dg, NULL);
		buf_addstr(pg->b, "</details>");
	} else if (*dur && !strcmp(html_status_class(st), "st-ok")) {
		buf_addstr(pg->b, dur);
	} else {
		text(pg, st);
	}
	if (jobj(ev, "ignored"))
		buf_addstr(pg->b, " <span class=\"muted\">(ignored)</span>");
	buf_addstr(pg->b, "</td>");
}

struct failure {
	const char *host, *event, *code, *msg;
	unsigned id;
};

static void dep_grid(struct page *pg, json_object *o)
{
	json_object *insts = jobj(o, "instances");
	struct strvec evs = STRVEC_INIT;
	struct failure *fails = NULL;
	size_t nfails = 0, afails = 0;
	double t0 = 0, t1 = 0;
	bool span = jnum(o, "startTime", &t0) && jnum(o, "completeTime", &t1);

	if (!jlen(insts))
		return;
	dep_events(insts, &evs);
	buf_addf(pg->b, "<h3>Hosts by lifecycle event</h3>\n<table "
			"class=\"grid\"><tr><th>Host</th><th>Status</th>");
	for (size_t k = 0; k < evs.nr; k++) {
		buf_addstr(pg->b, "<th class=\"ev\">");
		text(pg, evs.v[k]);
		buf_addstr(pg->b, "</th>");
	}
	buf_addstr(pg->b, span ? "<th style=\"width:18%\">Timeline</th>" : "");
	buf_addstr(pg->b, "</tr>\n");
	for (size_t i = 0; i < jlen(insts); i++) {
		json_object *in = jat(insts, i);
		const char *st = jstr(in, "status");
		const char *msg = jstr(in, "message");
		bool ev_diag = false;
		double hs, he;

		if (!in)
			continue;
		buf_addstr(pg->b, "<tr class=\"host\"><th scope=\"row\" "
				  "class=\"nowrap\"><code>");
		text(pg, jstr(in, "instanceId"));
		buf_addstr(pg->b, "</code></th>");
		for (size_t k = 0; k < evs.nr; k++) {
			json_object *ev = find_event(in, evs.v[k]);

			if (jobj(ev, "diagnostics"))
				ev_diag = true;
		}
		/* a host failed before any event (unreachable, ...): its
		 * message behind its status */
		buf_addf(pg->b, "<td class=\"cell %s\">",
			 html_status_class(st));
		if (msg && !ev_diag) {
			json_object *dg = json_object_new_object();
			unsigned id = pg->seq++;

			buf_addf(pg->b,
				 "<details class=\"diag\" id=\"diag%u\">"
				 "<summary>",
				 id);
			text(pg, st);
			buf_addstr(pg->b, "</summary>");
			diag_panel(pg, dg, msg);
			buf_addstr(pg->b, "</details>");
			json_object_put(dg);
			ALLOC_GROW(fails, nfails + 1, afails);
			fails[nfails++] =
				(struct failure){ jstr(in, "instanceId"), NULL,
						  NULL, msg, id };
		} else {
			text(pg, st);
		}
		buf_addstr(pg->b, "</td>");
		for (size_t k = 0; k < evs.nr; k++) {
			json_object *ev = find_event(in, evs.v[k]);
			json_object *dg = jobj(ev, "diagnostics");
			unsigned id = pg->seq++;

			grid_cell(pg, ev, id, k >= evs.nr / 2);
			if (dg) {
				ALLOC_GROW(fails, nfails + 1, afails);
				fails[nfails++] = (struct failure){
					jstr(in, "instanceId"), evs.v[k],
					jstr(dg, "errorCode"),
					jstr(dg, "message"), id
				};
			}
		}
		if (span) {
			buf_addstr(pg->b, "<td>");
			if (jnum(in, "startTime", &hs)) {
				if (!jnum(in, "lastUpdatedAt", &he))
					he = hs;
				bar(pg, t0, t1 - t0, hs, he, st);
			}
			buf_addstr(pg->b, "</td>");
		}
		buf_addstr(pg->b, "</tr>\n");
	}
	buf_addstr(pg->b, "</table>\n");
	if (nfails) {
		buf_addstr(pg->b, "<h3>Failures</h3>\n<ul class=\"fails\">\n");
		for (size_t i = 0; i < nfails; i++) {
			buf_addf(pg->b,
				 "<li><a href=\"#diag%u\" data-open=\"diag%u\">"
				 "<code>",
				 fails[i].id, fails[i].id);
			text(pg, fails[i].host);
			if (fails[i].event) {
				buf_addstr(pg->b, " &#8250; ");
				text(pg, fails[i].event);
			}
			buf_addstr(pg->b, "</code></a> ");
			if (fails[i].code) {
				buf_addstr(pg->b, "<strong>");
				text(pg, fails[i].code);
				buf_addstr(pg->b, "</strong> ");
			}
			text(pg, fails[i].msg);
			buf_addstr(pg->b, "</li>\n");
		}
		buf_addstr(pg->b, "</ul>\n");
	}
	free(fails);
	strvec_release(&evs);
}

static void dep_overview(struct page *pg, json_object *o)
{
	static const char *const keys[] = { "Succeeded", "Failed", "Skipped",
					    "InProgress", "Pending" };
	json_object *ov = jobj(o, "deploymentOverview");
	double v;

	if (!ov)
		return;
	buf_addstr(pg->b, "<dt>hosts</dt><dd class=\"counts\">");
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (jnum(ov, keys[i], &v) && v > 0)
			buf_addf(pg->b,
				 "<span><span class=\"badge %s\">%.0f</span> "
				 "%s</span>",
				 html_status_class(keys[i]), v, keys[i]);
	buf_addstr(pg->b, "</dd>\n");
}

/* --probe: what answered through the load balancer, and when; each
 * version a bar from its first answer to its last, the failures too. */
static void dep_probe(struct page *pg, json_object *o)
{
	json_object *pr = jobj(o, "probe"), *vs, *fs;
	double t0, t1, sent = 0, failed = 0, gap = 0, a, z;
	char when[64];

	if (!pr || !jnum(pr, "startTime", &t0) || !jnum(pr, "endTime", &t1))
		return;
	jnum(pr, "sent", &sent);
	jnum(pr, "failed", &failed);
	jnum(pr, "longestGapMs", &gap);
	vs = jobj(pr, "versions");
	fs = jobj(pr, "failures");
	buf_addstr(pg->b, "<h3>Probe</h3>\n<div class=\"callout");
	buf_addstr(pg->b, failed > 0 ? "\">" : " info\">");
	buf_addf(pg->b,
		 "<span class=\"badge %s\">%.0f of %.0f requests failed"
		 "</span> longest gap between successes %.0f ms; GET ",
		 failed > 0 ? "st-bad" : "st-ok", failed, sent, gap);
	text(pg, jstr(pr, "url"));
	buf_addstr(pg->b, "</div>\n<table class=\"phases\"><tr>"
			  "<th>Answered</th><th class=\"num\">Requests</th>"
			  "<th>From</th><th>To</th>"
			  "<th style=\"width:45%\">Timeline</th></tr>\n");
	for (size_t i = 0; i < jlen(vs); i++) {
		json_object *v = jat(vs, i);
		double n = 0;

		if (!jnum(v, "firstAt", &a) || !jnum(v, "lastAt", &z))
			continue;
		jnum(v, "count", &n);
		buf_addstr(pg->b, "<tr><td><code>");
		text(pg, jstr(v, "version"));
		buf_addf(pg->b, "</code></td><td class=\"num\">%.0f</td><td>",
			 n);
		fmt_when(when, sizeof(when), a);
		text(pg, when);
		buf_addstr(pg->b, "</td><td>");
		fmt_when(when, sizeof(when), z);
		text(pg, when);
		buf_addstr(pg->b, "</td><td>");
		bar(pg, t0, t1 - t0, a, z, "Succeeded");
		buf_addstr(pg->b, "</td></tr>\n");
	}
	if (jlen(fs) && jnum(jat(fs, 0), "at", &a) &&
	    jnum(jat(fs, jlen(fs) - 1), "at", &z)) {
		buf_addf(pg->b,
			 "<tr><td>failed</td><td class=\"num\">%.0f</td><td>",
			 failed);
		fmt_when(when, sizeof(when), a);
		text(pg, when);
		buf_addstr(pg->b, "</td><td>");
		fmt_when(when, sizeof(when), z);
		text(pg, when);
		buf_addstr(pg->b, "</td><td>");
		bar(pg, t0, t1 - t0, a, z, "Failed");
		buf_addstr(pg->b, "</td></tr>\n");
	}
	buf_addstr(pg->b, "</table>\n");
	if (jlen(fs)) {
		buf_addstr(pg->b, "<details><summary>failed requests</summary>"
				  "<ul>\n");
		for (size_t i = 0; i < jlen(fs); i++) {
			json_object *f = jat(fs, i);

			buf_addstr(pg->b, "<li>");
			if (jnum(f, "at", &a)) {
				fmt_when(when, sizeof(when), a);
				text(pg, when);
				buf_addstr(pg->b, ": ");
			}
			text(pg, jstr(f, "error"));
			buf_addstr(pg->b, "</li>\n");
		}
		buf_addstr(pg->b, "</ul></details>\n");
	}
}

static void render_deploy(struct page *pg, json_object *o)
{
	json_object *rb = jobj(o, "rollbackInfo"),
		    *ei = jobj(o, "errorInformation");
	const char *id = jstr(o, "deploymentId");
	const char *of = jstr(rb, "rollbackTriggeringDeploymentId");
	const char *by = jstr(rb, "rollbackDeploymentId");
	char *group = NULL;

	buf_addstr(pg->b, "<section class=\"doc deployment\" id=\"dep-");
	text(pg, id);
	buf_addstr(pg->b, "\"><h2>");
	buf_addstr(pg->b, of ? "Rollback " : "Deployment ");
	text(pg, id);
	buf_addch(pg->b, ' ');
	badge(pg, jstr(o, "status"));
	buf_addstr(pg->b, "</h2>\n");
	if (of) {
		buf_addstr(pg->b, "<div class=\"callout info\">rolls back "
				  "deployment ");
		dep_link(pg, of);
		buf_addstr(pg->b, "</div>\n");
	}
	if (ei && (jstr(ei, "code") || jstr(ei, "message"))) {
		buf_addstr(pg->b, "<div class=\"callout\"><strong>");
		text(pg, jstr(ei, "code"));
		buf_addstr(pg->b, "</strong> ");
		text(pg, jstr(ei, "message"));
		buf_addstr(pg->b, "</div>\n");
	}
	buf_addstr(pg->b, "<dl class=\"meta\">\n");
	meta(pg, "application", jstr(o, "applicationName"), false);
	if (jstr(o, "deploymentGroupName"))
		group = xasprintf("%s (%s)", jstr(o, "deploymentGroupName"),
				  jstr(o, "deploymentGroupId")
					  ? jstr(o, "deploymentGroupId")
					  : "");
	meta(pg, "group", group, false);
	free(group);
	meta(pg, "config", jstr(o, "deploymentConfigName"), false);
	meta(pg, "revision", jstr(jobj(o, "revision"), "location"), true);
	meta_times(pg, o, "completeTime");
	dep_overview(pg, o);
	if (by) {
		buf_addstr(pg->b, "<dt>rolled back by</dt><dd>");
		dep_link(pg, by);
		buf_addstr(pg->b, " <span class=\"muted\">");
		text(pg, jstr(rb, "rollbackMessage"));
		buf_addstr(pg->b, "</span></dd>\n");
	}
	buf_addstr(pg->b, "</dl>\n");
	dep_grid(pg, o);
	dep_probe(pg, o);
	buf_addstr(pg->b, "</section>\n");
}

/* ---- a run, and the page ---- */

static void render_doc(struct page *pg, json_object *o);

static bool ok_status(const char *st)
{
	return !st || !strcasecmp(st, "SUCCEEDED");
}

static void fail_item(struct page *pg, const char *href, const char *where,
		      const char *code, const char *msg)
{
	buf_addstr(pg->b, "<li><a href=\"#");
	text(pg, href);
	buf_addstr(pg->b, "\"><code>");
	text(pg, where);
	buf_addstr(pg->b, "</code></a> ");
	if (code && *code) {
		buf_addstr(pg->b, "<strong>");
		text(pg, code);
		buf_addstr(pg->b, "</strong> ");
	}
	text(pg, msg);
	buf_addstr(pg->b, "</li>\n");
}

/*
 * A run that did not succeed says why at the top of its page, before
 * the build's and the deployments' sections: the run's message, the
 * build's failed phases, each deployment's error and its failed host
 * events, each linking to its section. build_sec is the id the build's
 * section will get.
 */
static void run_failures(struct page *pg, json_object *o, unsigned build_sec)
{
	json_object *b = jobj(o, "build"), *deps = jobj(o, "deployments");
	char href[32];

	if (ok_status(jstr(o, "status")))
		return;
	buf_addstr(pg->b, "<div class=\"callout\" id=\"run-failures\">"
			  "<strong>Why it failed</strong>");
	if (jstr(o, "message")) {
		buf_addstr(pg->b, " ");
		text(pg, jstr(o, "message"));
	}
	buf_addstr(pg->b, "\n<ul class=\"fails\">\n");
	snprintf(href, sizeof(href), "b%u", build_sec);
	if (kind_of(b) == K_BUILD && !ok_status(jstr(b, "buildStatus"))) {
		json_object *phases = jobj(b, "phases");

		for (size_t i = 0; i < jlen(phases); i++) {
			json_object *p = jat(phases, i), *ctx;
			const char *st = jstr(p, "phaseStatus");
			char *where;

			if (!st || ok_status(st) || !strcmp(st, "SKIPPED"))
				continue;
			ctx = jobj(p, "contexts");
			ctx = jlen(ctx) ? jat(ctx, jlen(ctx) - 1) : NULL;
			where = xasprintf("build %s", jstr(p, "phaseType"));
			fail_item(pg, href, where, jstr(ctx, "statusCode"),
				  jstr(ctx, "message"));
			free(where);
		}
	}
	for (size_t i = 0; i < jlen(deps); i++) {
		json_object *d = jat(deps, i),
			    *ei = jobj(d, "errorInformation");
		json_object *insts = jobj(d, "instances");
		char *dhref;

		if (kind_of(d) != K_DEPLOY ||
		    !strcmp(jstr(d, "status") ? jstr(d, "status") : "",
			    "Succeeded"))
			continue;
		dhref = xasprintf("dep-%s", jstr(d, "deploymentId"));
		if (ei && (jstr(ei, "code") || jstr(ei, "message")))
			fail_item(pg, dhref, jstr(d, "deploymentId"),
				  jstr(ei, "code"), jstr(ei, "message"));
		for (size_t h = 0; h < jlen(insts); h++) {
			json_object *in = jat(insts, h);
			json_object *evs = jobj(in, "lifecycleEvents");

			for (size_t k = 0; k < jlen(evs); k++) {
				json_object *ev = jat(evs, k);
				json_object *dg = jobj(ev, "diagnostics");
				char *where;

				if (!dg)
					continue;
				where = xasprintf(
					"%s \xe2\x80\xba %s",
					jstr(in, "instanceId"),
					jstr(ev, "lifecycleEventName"));
				fail_item(pg, dhref, where,
					  jstr(dg, "errorCode"),
					  jstr(dg, "message"));
				free(where);
			}
		}
		free(dhref);
	}
	buf_addstr(pg->b, "</ul></div>\n");
}

static void render_run(struct page *pg, json_object *o)
{
	json_object *deps = jobj(o, "deployments");

	buf_addstr(pg->b, "<section class=\"doc run\"><h2>Run ");
	text(pg, jstr(o, "runId"));
	buf_addch(pg->b, ' ');
	badge(pg, jstr(o, "status"));
	buf_addstr(pg->b, "</h2>\n");
	/* the build's section is the next to take a number */
	run_failures(pg, o, pg->seq);
	buf_addstr(pg->b, "<dl class=\"meta\">\n");
	meta_times(pg, o, "endTime");
	buf_addstr(pg->b, "</dl>\n</section>\n");
	if (kind_of(jobj(o, "build")) == K_BUILD)
		render_build(pg, jobj(o, "build"));
	for (size_t i = 0; i < jlen(deps); i++)
		if (kind_of(jat(deps, i)) == K_DEPLOY)
			render_deploy(pg, jat(deps, i));
}

static void render_doc(struct page *pg, json_object *o)
{
	switch (kind_of(o)) {
	case K_RUN:
		render_run(pg, o);
		break;
	case K_BUILD:
		render_build(pg, o);
		break;
	case K_DEPLOY:
		render_deploy(pg, o);
		break;
	case K_NONE:
		break;
	}
}

static void collect_ids(struct page *pg, json_object *o)
{
	json_object *deps;

	switch (kind_of(o)) {
	case K_DEPLOY:
		strvec_push(&pg->dep_ids, jstr(o, "deploymentId"));
		break;
	case K_RUN:
		deps = jobj(o, "deployments");
		for (size_t i = 0; i < jlen(deps); i++)
			if (kind_of(jat(deps, i)) == K_DEPLOY)
				collect_ids(pg, jat(deps, i));
		break;
	default:
		break;
	}
}

/* Failed beats warn beats skipped beats succeeded. */
static const char *worst(const char *a, const char *b)
{
	static const char *const rank[] = { "st-ok", "st-skip", "st-warn",
					    "st-bad" };
	int ra = 0, rb = 0;

	if (!a)
		return b;
	if (!b)
		return a;
	for (int i = 0; i < 4; i++) {
		if (!strcmp(html_status_class(a), rank[i]))
			ra = i;
		if (!strcmp(html_status_class(b), rank[i]))
			rb = i;
	}
	return rb > ra ? b : a;
}

static void title(struct buf *t, json_object *o)
{
	switch (kind_of(o)) {
	case K_RUN:
		buf_addf(t, "run %s", jstr(o, "runId"));
		break;
	case K_BUILD:
		buf_addf(t, "build %s",
			 jstr(o, "id") ? jstr(o, "id") : "(no id)");
		break;
	case K_DEPLOY:
		buf_addf(t, "deployment %s", jstr(o, "deploymentId"));
		break;
	case K_NONE:
		break;
	}
}

static void render_page(struct buf *b, json_object *const *docs, size_t n)
{
	struct page pg = { b, STRVEC_INIT, 0 };
	struct buf t = BUF_INIT;
	const char *status = NULL;
	char now[40];

	for (size_t i = 0; i < n; i++) {
		collect_ids(&pg, docs[i]);
		status = worst(status, doc_status(docs[i]));
		if (i)
			buf_addstr(&t, ", ");
		title(&t, docs[i]);
	}
	fmt_when(now, sizeof(now), (double)time(NULL));
	buf_addstr(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		      "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
		      "content=\"width=device-width,initial-scale=1\">\n"
		      "<meta http-equiv=\"Content-Security-Policy\" "
		      "content=\"default-src 'none'; style-src "
		      "'unsafe-inline'; script-src 'unsafe-inline'; "
		      "img-src data:\">\n<title>slipway: ");
	html_escape(b, buf_cstr(&t));
	buf_addstr(b, "</title>\n<style>\n");
	buf_addstr(b, html_css);
	buf_addf(b, "</style>\n</head><body>\n<header class=\"top %s\">",
		 html_status_class(status));
	buf_addstr(b, "<div><h1>");
	html_escape(b, buf_cstr(&t));
	buf_addstr(b, "</h1><div class=\"sub\">slipway report</div></div>");
	badge(&pg, status);
	buf_addstr(b, "<div class=\"tools\"><button type=\"button\" "
		      "id=\"sw-toggle\">Open all diagnostics</button></div>"
		      "</header>\n<main>\n");
	for (size_t i = 0; i < n; i++)
		render_doc(&pg, docs[i]);
	buf_addf(b, "</main>\n<footer>slipway report, written %s</footer>\n",
		 now);
	buf_addstr(b, "<script>\n");
	buf_addstr(b, script);
	buf_addstr(b, "</script>\n</body></html>\n");
	buf_release(&t);
	strvec_release(&pg.dep_ids);
}

static json_object *parse(const char *text, const char *what, struct sw_err *e)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;
	enum json_tokener_error je;

	o = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
	je = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (je != json_tokener_success || !o) {
		json_object_put(o);
		err_set(e, ERR_SPEC, "%s: not valid JSON: %s", what,
			json_tokener_error_desc(je));
		return NULL;
	}
	if (kind_of(o) == K_NONE) {
		json_object_put(o);
		err_set(e, ERR_SPEC,
			"%s: not a build, deployment or run report", what);
		return NULL;
	}
	return o;
}

static void put_all(json_object **docs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(docs[i]);
	free(docs);
}

static int parse_all(const char *const *texts, size_t n, json_object ***docsp,
		     struct sw_err *e)
{
	json_object **docs = NULL;

	if (!n)
		return err_set(e, ERR_USAGE, "no report to render");
	docs = xcalloc(n, sizeof(*docs));
	for (size_t i = 0; i < n; i++) {
		char what[32];

		snprintf(what, sizeof(what), "report %zu", i + 1);
		if (!(docs[i] = parse(texts[i], what, e))) {
			put_all(docs, n);
			return -1;
		}
	}
	*docsp = docs;
	return 0;
}

int html_render_sections(const char *const *texts, size_t n, struct buf *out,
			 struct sw_err *e)
{
	json_object **docs = NULL;
	struct page pg = { out, STRVEC_INIT, 0 };

	if (parse_all(texts, n, &docs, e) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		collect_ids(&pg, docs[i]);
	for (size_t i = 0; i < n; i++)
		render_doc(&pg, docs[i]);
	strvec_release(&pg.dep_ids);
	put_all(docs, n);
	return 0;
}

int html_render(const char *const *texts, size_t n, struct buf *out,
		struct sw_err *e)
{
	json_object **docs = NULL;

	if (parse_all(texts, n, &docs, e) < 0)
		return -1;
	render_page(out, docs, n);
	put_all(docs, n);
	return 0;
}

static int write_page(const char *const *json_paths, size_t n,
		      const char *out_html, bool durable, struct sw_err *e)
{
	json_object **docs = NULL;
	struct buf page = BUF_INIT;
	int ret = -1;

	if (!n)
		return err_set(e, ERR_USAGE, "no report to render");
	docs = xcalloc(n, sizeof(*docs));
	for (size_t i = 0; i < n; i++) {
		char *text;
		size_t len;

		if (fs_read_file(json_paths[i], HTML_MAX_JSON, &text, &len, e) <
		    0)
			goto out;
		docs[i] = parse(text, json_paths[i], e);
		free(text);
		if (!docs[i])
			goto out;
	}
	render_page(&page, docs, n);
	ret = durable ? fs_write_atomic(out_html, page.ptr, page.len, 0644, e)
		      : fs_replace(out_html, page.ptr, page.len, 0644, e);
out:
	buf_release(&page);
	put_all(docs, n);
	return ret;
}

int html_report_write(const char *const *json_paths, size_t n,
		      const char *out_html, struct sw_err *e)
{
	return write_page(json_paths, n, out_html, true, e);
}

void html_beside(const char *report_json_path)
{
	struct sw_err e = SW_ERR_INIT;
	char *copy = xstrdup(report_json_path);
	char *out = fs_join(dirname(copy), "report.html");

	/* rebuilt from the record by `slipway report`: not synced */
	if (write_page(&report_json_path, 1, out, false, &e) < 0)
		fprintf(stderr, "warning: %s: %s\n", out, e.msg);
	free(out);
	free(copy);
}
