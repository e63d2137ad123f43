#include "report.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "xalloc.h"
#include "banned.h"

static json_object *jstr(const struct mask *m, const char *s)
{
	char *masked;
	json_object *o;

	if (!s)
		return NULL;
	if (!m || !m->nr)
		return json_object_new_string(s);
	masked = mask_string(m, s);
	o = json_object_new_string(masked);
	free(masked);
	return o;
}

static json_object *jtime(int64_t ms)
{
	char txt[32];

	snprintf(txt, sizeof(txt), "%lld.%03lld", (long long)(ms / 1000),
		 (long long)(ms % 1000));
	return json_object_new_double_s((double)ms / 1000.0, txt);
}

static void add(json_object *o, const char *k, json_object *v)
{
	if (v)
		json_object_object_add(o, k, v);
}

/* A compact report's messages are cut to this many bytes. */
#define COMPACT_MSG 1024

static json_object *jstr_cut(const struct mask *m, const char *s, bool cut)
{
	char *c;
	json_object *o;

	if (!s || !cut || strlen(s) <= COMPACT_MSG)
		return jstr(m, s);
	c = xasprintf("%.*s...", COMPACT_MSG, s);
	o = jstr(m, c);
	free(c);
	return o;
}

static json_object *phase_json(const struct phase_rec *p, const struct mask *m,
			       bool last, bool compact)
{
	json_object *o = json_object_new_object();
	json_object *ctx;

	add(o, "phaseType", json_object_new_string(p->type));
	add(o, "startTime", jtime(p->start_ms));
	if (last && !strcmp(p->type, "COMPLETED"))
		return o; /* CodeBuild's COMPLETED has no status or end */
	add(o, "phaseStatus",
	    json_object_new_string(phase_status_name(p->status)));
	add(o, "endTime", jtime(p->end_ms));
	add(o, "durationInSeconds",
	    json_object_new_int64((p->end_ms - p->start_ms) / 1000));
	ctx = json_object_new_array();
	for (size_t i = 0; i < p->nr_ctx; i++) {
		json_object *c = json_object_new_object();

		add(c, "statusCode", jstr(m, p->ctx[i].code));
		add(c, "message", jstr_cut(m, p->ctx[i].message, compact));
		json_object_array_add(ctx, c);
	}
	add(o, "contexts", ctx);
	return o;
}

static json_object *artifact_json(const struct build_artifact *a,
				  const struct mask *m)
{
	json_object *o = json_object_new_object();

	add(o, "location", jstr(m, a->location));
	if (a->packaging)
		add(o, "packaging", json_object_new_string(a->packaging));
	add(o, "sha256sum", jstr(m, a->sha256));
	add(o, "md5sum", jstr(m, a->md5));
	if (a->identifier)
		add(o, "artifactIdentifier", jstr(m, a->identifier));
	add(o, "sizeInBytes", json_object_new_int64(a->size));
	add(o, "files", json_object_new_int64((int64_t)a->files));
	return o;
}

static char *build_json(const struct build_result *r, const struct mask *m,
			bool compact)
{
	json_object *o = json_object_new_object();
	json_object *phases = json_object_new_array();
	json_object *exp = json_object_new_array();
	json_object *sec = json_object_new_array();
	json_object *cache = json_object_new_object();
	char *text;

	add(o, "id", jstr(m, r->id));
	add(o, "arn", jstr(m, r->arn));
	add(o, "buildNumber", json_object_new_int64(r->number));
	add(o, "projectName", jstr(m, r->project));
	add(o, "buildStatus", jstr(m, r->status));
	add(o, "buildComplete", json_object_new_boolean(1));
	if (r->reason && r->status && strcmp(r->status, "SUCCEEDED"))
		add(o, "statusReason", jstr_cut(m, r->reason, compact));
	add(o, "currentPhase", jstr(m, r->current_phase));
	add(o, "startTime", jtime(r->start_ms));
	add(o, "endTime", jtime(r->end_ms));
	add(o, "sourceVersion", jstr(m, r->source_version));
	add(o, "resolvedSourceVersion", jstr(m, r->resolved_source_version));
	{
		json_object *src = json_object_new_object();

		add(src, "type",
		    json_object_new_string(
			    r->resolved_source_version ? "GIT" : "LOCAL"));
		add(src, "location", jstr(m, r->repo_url));
		add(src, "buildspec", jstr(m, r->buildspec));
		add(o, "source", src);
	}
	if (r->nr_secondary) {
		json_object *ss = json_object_new_array();
		json_object *sv = json_object_new_array();

		for (size_t i = 0; i < r->nr_secondary; i++) {
			const struct build_source *b = &r->secondary[i];
			json_object *x = json_object_new_object();
			const char *v = b->resolved_source_version
						? b->resolved_source_version
						: b->source_version;

			add(x, "type",
			    json_object_new_string(b->resolved_source_version
							   ? "GIT"
							   : "LOCAL"));
			add(x, "location", jstr(m, b->location));
			add(x, "sourceIdentifier", jstr(m, b->id));
			json_object_array_add(ss, x);
			if (!v)
				continue;
			x = json_object_new_object();
			add(x, "sourceIdentifier", jstr(m, b->id));
			add(x, "sourceVersion", jstr(m, v));
			json_object_array_add(sv, x);
		}
		add(o, "secondarySources", ss);
		add(o, "secondarySourceVersions", sv);
	}
	add(o, "initiator", jstr(m, r->initiator));
	add(o, "timeoutInMinutes", json_object_new_int64(r->timeout_minutes));
	for (size_t i = 0; i < r->phases.nr; i++)
		json_object_array_add(phases, phase_json(&r->phases.v[i], m,
							 i + 1 == r->phases.nr,
							 compact));
	add(o, "phases", phases);
	if (compact) {
		/*
		 * What a full disk leaves room for: the status, the phases,
		 * the log; a marker says the rest was left out.
		 */
		json_object *logs = json_object_new_object();
		char *p = r->build_dir ? xasprintf("%s/build.log", r->build_dir)
				       : NULL;

		add(logs, "location", jstr(m, p));
		add(o, "logs", logs);
		free(p);
		add(o, "reportCompact", json_object_new_boolean(1));
		json_object_put(exp);
		json_object_put(sec);
		json_object_put(cache);
		goto out;
	}
	for (size_t i = 0; i < r->exported.nr; i++) {
		const char *kv = r->exported.v[i];
		const char *eq = strchr(kv, '=');
		json_object *e = json_object_new_object();
		char *name = xstrndup(kv, (size_t)(eq - kv));

		add(e, "name", jstr(m, name));
		add(e, "value", jstr(m, eq + 1));
		json_object_array_add(exp, e);
		free(name);
	}
	add(o, "exportedEnvironmentVariables", exp);
	for (size_t i = 0; i < r->nr_artifacts; i++) {
		if (!r->artifacts[i].identifier)
			add(o, "artifacts", artifact_json(&r->artifacts[i], m));
		else
			json_object_array_add(
				sec, artifact_json(&r->artifacts[i], m));
	}
	add(o, "secondaryArtifacts", sec);
	if (r->from_build) { /* slipway's own: --from / --phase */
		json_object *f = json_object_new_object();

		add(f, "buildId", jstr(m, r->from_build));
		add(f, "phaseType", jstr(m, r->from_phase));
		add(f, "onePhase", json_object_new_boolean(r->one_phase));
		add(o, "resumedFrom", f);
	}
	if (r->nr_pauses) { /* slipway's own: --break */
		json_object *ps = json_object_new_array();
		int64_t total = 0;

		for (size_t i = 0; i < r->nr_pauses; i++) {
			const struct build_pause *bp = &r->pauses[i];
			json_object *p = json_object_new_object();

			add(p, "phaseType", json_object_new_string(bp->phase));
			if (bp->n)
				add(p, "commandNumber",
				    json_object_new_int64(bp->n));
			add(p, "command", jstr(m, bp->command));
			add(p, "reason", json_object_new_string(bp->why));
			add(p, "action", json_object_new_string(bp->action));
			add(p, "startTime", jtime(bp->start_ms));
			add(p, "endTime", jtime(bp->end_ms));
			add(p, "durationInSeconds",
			    json_object_new_int64((bp->end_ms - bp->start_ms) /
						  1000));
			json_object_array_add(ps, p);
			total += bp->end_ms - bp->start_ms;
		}
		add(o, "pauses", ps);
		add(o, "pausedInSeconds", jtime(total));
	}
	{
		json_object *reps = json_object_new_array();

		for (size_t i = 0; i < r->nr_reports; i++) {
			json_object *rep = reports_json(&r->reports[i], m);
			char *group = xasprintf("%s-%s", r->project,
						r->reports[i].name);

			/* CodeBuild names a report group <project>-<name> */
			if (strncmp(r->reports[i].name, "arn:", 4))
				add(rep, "reportGroupName", jstr(m, group));
			free(group);
			json_object_array_add(reps, rep);
		}
		add(o, "reports", reps);
	}
	if (r->cache_restore || r->cache_save) {
		json_object *modes = json_object_new_array();

		json_object_array_add(
			modes, json_object_new_string("LOCAL_CUSTOM_CACHE"));
		add(cache, "type", json_object_new_string("LOCAL"));
		add(cache, "modes", modes);
		add(cache, "restore", jstr(m, r->cache_restore));
		add(cache, "save", jstr(m, r->cache_save));
	} else {
		add(cache, "type", json_object_new_string("NO_CACHE"));
	}
	add(o, "cache", cache);
	{
		json_object *logs = json_object_new_object();
		char *p = r->build_dir ? xasprintf("%s/build.log", r->build_dir)
				       : NULL;

		add(logs, "location", jstr(m, p));
		add(o, "logs", logs);
		free(p);
	}
out:
	text = xstrdup(json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE |
			   JSON_C_TO_STRING_SPACED));
	json_object_put(o);
	return text;
}

char *report_json(const struct build_result *r, const struct mask *m)
{
	return build_json(r, m, false);
}

char *report_json_compact(const struct build_result *r, const struct mask *m)
{
	return build_json(r, m, true);
}

static char *with_newline(char *text, size_t *len)
{
	*len = strlen(text);
	text = xrealloc(text, *len + 2);
	text[(*len)++] = '\n';
	text[*len] = '\0';
	return text;
}

int report_write(const struct build_result *r, const struct mask *m,
		 const char *path, struct sw_err *e)
{
	size_t len;
	char *text = with_newline(report_json(r, m), &len);
	int ret;

	ret = fs_write_atomic(path, text, len, 0644, e);
	free(text);
	return ret;
}

int report_commit(const struct build_result *r, const struct mask *m,
		  bool compact, struct fs_reserve *rv, struct sw_err *e)
{
	size_t len;
	char *text = with_newline(build_json(r, m, compact), &len);
	int ret, err;

	ret = fs_reserve_commit(rv, text, len, 0644, e);
	err = errno;
	free(text);
	errno = err;
	return ret;
}

static json_object *load(const char *path, struct sw_err *e)
{
	char *data;
	size_t len;
	json_object *o;

	if (fs_read_file(path, 64 << 20, &data, &len, e) < 0)
		return NULL;
	o = json_tokener_parse(data);
	free(data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		err_set(e, ERR_SYSTEM, "'%s' is not a report", path);
		return NULL;
	}
	return o;
}

static const char *get(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !v)
		return "";
	return json_object_get_string(v);
}

/* A reason on one line: a command of many lines is shown as one, and a
 * long one is cut. */
static void reason_out(FILE *out, const char *reason)
{
	size_t n = 0;

	if (!*reason)
		return;
	fputs("  ", out);
	for (const char *p = reason; *p && n < 240; p++, n++)
		fputc(*p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p, out);
	if (strlen(reason) > 240)
		fputs("...", out);
}

static int64_t get_ms(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !v)
		return 0;
	return (int64_t)(json_object_get_double(v) * 1000.0 + 0.5);
}

static void ms_time(int64_t ms, char out[32])
{
	time_t t = (time_t)((double)ms / 1000.0);
	struct tm tm;

	out[0] = '\0';
	if (!ms)
		return;
	localtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

static double ms_span(int64_t start, int64_t end)
{
	if (!start || !end)
		return 0;
	return (double)end / 1000.0 - (double)start / 1000.0;
}

int report_build_row(const char *path, struct store_build *b, struct sw_err *e)
{
	json_object *o = load(path, e);
	const char *colon;

	if (!o)
		return -1;
	memset(b, 0, sizeof(*b));
	b->id = xstrdup(get(o, "id"));
	b->project = xstrdup(get(o, "projectName"));
	if (!*b->project && (colon = strchr(b->id, ':'))) {
		free(b->project);
		b->project = xstrndup(b->id, (size_t)(colon - b->id));
	}
	b->number = atol(get(o, "buildNumber"));
	b->status = xstrdup(get(o, "buildStatus"));
	b->start_ms = get_ms(o, "startTime");
	b->end_ms = get_ms(o, "endTime");
	if (*get(o, "resolvedSourceVersion"))
		b->source_version = xstrdup(get(o, "resolvedSourceVersion"));
	b->report_path = xstrdup(path);
	if (*get(o, "statusReason"))
		b->reason = xstrdup(get(o, "statusReason"));
	json_object_put(o);
	return 0;
}

void report_build_line(const struct store_build *b, FILE *out)
{
	char when[32], num[24] = "";

	ms_time(b->start_ms, when);
	if (b->number)
		snprintf(num, sizeof(num), "%ld", b->number);
	fprintf(out, "%-5s %-10s %s  %6.1fs  %s", num,
		b->status ? b->status : "", when,
		ms_span(b->start_ms, b->end_ms), b->id);
	reason_out(out, b->reason ? b->reason : "");
	fputc('\n', out);
}

int report_summary_line(const char *path, FILE *out, struct sw_err *e)
{
	struct store_build b;

	if (report_build_row(path, &b, e) < 0)
		return -1;
	report_build_line(&b, out);
	store_build_release(&b);
	return 0;
}

int report_show(const char *path, FILE *out, struct sw_err *e)
{
	json_object *o = load(path, e);
	json_object *phases, *v;

	if (!o)
		return -1;
	fprintf(out, "build:    %s\nnumber:   %s\nstatus:   %s\n", get(o, "id"),
		get(o, "buildNumber"), get(o, "buildStatus"));
	if (*get(o, "statusReason"))
		fprintf(out, "reason:   %s\n", get(o, "statusReason"));
	if (*get(o, "resolvedSourceVersion"))
		fprintf(out, "commit:   %s\n", get(o, "resolvedSourceVersion"));
	if (json_object_object_get_ex(o, "artifacts", &v))
		fprintf(out, "artifact: %s\n", get(v, "location"));
	if (json_object_object_get_ex(o, "logs", &v))
		fprintf(out, "log:      %s\n", get(v, "location"));
	fprintf(out, "\n%-18s %-10s %8s  %s\n", "PHASE", "STATUS", "SECONDS",
		"CONTEXT");
	if (json_object_object_get_ex(o, "phases", &phases)) {
		size_t n = json_object_array_length(phases);

		for (size_t i = 0; i < n; i++) {
			json_object *p = json_object_array_get_idx(phases, i);
			json_object *ctx;
			const char *msg = "";

			if (json_object_object_get_ex(p, "contexts", &ctx) &&
			    json_object_array_length(ctx))
				msg = get(json_object_array_get_idx(
						  ctx, json_object_array_length(
							       ctx) -
							       1),
					  "message");
			fprintf(out, "%-18s %-10s %8s  %s\n",
				get(p, "phaseType"), get(p, "phaseStatus"),
				get(p, "durationInSeconds"), msg);
		}
	}
	json_object_put(o);
	return 0;
}

/* ---- deployment reports (written by deploy.c) ---- */

int report_deploy_row(const char *path, struct store_deployment *d,
		      struct sw_err *e)
{
	json_object *o = load(path, e), *ov;

	if (!o)
		return -1;
	memset(d, 0, sizeof(*d));
	d->id = xstrdup(get(o, "deploymentId"));
	d->application = xstrdup(get(o, "applicationName"));
	d->group = xstrdup(get(o, "deploymentGroupName"));
	d->status = xstrdup(get(o, "status"));
	d->start_ms = get_ms(o, "startTime");
	d->end_ms = get_ms(o, "completeTime");
	d->report_path = xstrdup(path);
	d->hosts_total = -1;
	if (json_object_object_get_ex(o, "deploymentOverview", &ov)) {
		d->hosts_succeeded = atoi(get(ov, "Succeeded"));
		d->hosts_total = d->hosts_succeeded + atoi(get(ov, "Failed")) +
				 atoi(get(ov, "Skipped")) +
				 atoi(get(ov, "Pending")) +
				 atoi(get(ov, "InProgress"));
	}
	d->creator = xstrdup(get(o, "creator"));
	json_object_put(o);
	return 0;
}

void report_deploy_line(const struct store_deployment *d, FILE *out)
{
	char when[32], hosts[64] = "";

	ms_time(d->start_ms, when);
	if (d->hosts_total >= 0)
		snprintf(hosts, sizeof(hosts), "%ld/%ld hosts",
			 d->hosts_succeeded, d->hosts_total);
	fprintf(out, "%-11s %-10s %s  %6.1fs  %s/%s  %s%s\n", d->id,
		d->status ? d->status : "", when,
		ms_span(d->start_ms, d->end_ms),
		d->application ? d->application : "", d->group ? d->group : "",
		hosts,
		d->creator && !strcmp(d->creator, "codeDeployRollback")
			? "  (rollback)"
			: "");
}

int report_deploy_summary_line(const char *path, FILE *out, struct sw_err *e)
{
	struct store_deployment d;

	if (report_deploy_row(path, &d, e) < 0)
		return -1;
	report_deploy_line(&d, out);
	store_deployment_release(&d);
	return 0;
}

int report_deploy_show(const char *path, FILE *out, struct sw_err *e)
{
	json_object *o = load(path, e), *v, *insts;
	size_t n;

	if (!o)
		return -1;
	fprintf(out,
		"deployment:  %s\nstatus:      %s\napplication: %s\n"
		"group:       %s (%s)\nconfig:      %s\n",
		get(o, "deploymentId"), get(o, "status"),
		get(o, "applicationName"), get(o, "deploymentGroupName"),
		get(o, "deploymentGroupId"), get(o, "deploymentConfigName"));
	if (!strcmp(get(o, "status"), "Ready") &&
	    json_object_object_get_ex(o, "blueGreenDeploymentConfiguration",
				      &v) &&
	    json_object_object_get_ex(v, "deploymentReadyOption", &v)) {
		json_object *u;
		time_t t = json_object_object_get_ex(v, "waitUntil", &u)
				   ? (time_t)json_object_get_int64(u)
				   : 0;
		char when[32] = "?";

		if (t)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
				 localtime(&t));
		fprintf(out,
			"waiting:     for `slipway deploy continue %s` (or "
			"stop) until %s\n",
			get(o, "deploymentId"), when);
	}
	if (json_object_object_get_ex(o, "revision", &v))
		fprintf(out, "revision:    %s\n", get(v, "location"));
	if (json_object_object_get_ex(o, "errorInformation", &v) && v)
		fprintf(out, "error:       %s: %s\n", get(v, "code"),
			get(v, "message"));
	if (json_object_object_get_ex(o, "rollbackInfo", &v) && v) {
		if (*get(v, "rollbackDeploymentId"))
			fprintf(out, "rolled back: by %s (%s)\n",
				get(v, "rollbackDeploymentId"),
				get(v, "rollbackMessage"));
		if (*get(v, "rollbackTriggeringDeploymentId"))
			fprintf(out, "rollback of: %s\n",
				get(v, "rollbackTriggeringDeploymentId"));
	}
	fprintf(out, "\n%-20s %-10s %s\n", "HOST", "STATUS",
		"EVENTS (S succeeded, F failed, - skipped, . pending)");
	if (!json_object_object_get_ex(o, "instances", &insts))
		goto out;
	n = json_object_array_length(insts);
	for (size_t i = 0; i < n; i++) {
		json_object *in = json_object_array_get_idx(insts, i), *evs;
		char marks[32] = "";
		size_t m = 0;

		if (json_object_object_get_ex(in, "lifecycleEvents", &evs))
			for (size_t j = 0; j < json_object_array_length(evs) &&
					   m < sizeof(marks) - 1;
			     j++) {
				const char *st =
					get(json_object_array_get_idx(evs, j),
					    "status");

				marks[m++] = !strcmp(st, "Succeeded") ? 'S'
					     : !strcmp(st, "Failed")  ? 'F'
					     : !strcmp(st, "Skipped") ? '-'
								      : '.';
			}
		marks[m] = '\0';
		fprintf(out, "%-20s %-10s %s\n", get(in, "instanceId"),
			get(in, "status"), marks);
		if (json_object_object_get_ex(in, "lifecycleEvents", &evs))
			for (size_t j = 0; j < json_object_array_length(evs);
			     j++) {
				json_object *ev = json_object_array_get_idx(evs,
									    j),
					    *dg;

				if (!json_object_object_get_ex(
					    ev, "diagnostics", &dg))
					continue;
				fprintf(out, "  %s: %s: %s\n",
					get(ev, "lifecycleEventName"),
					get(dg, "errorCode"),
					get(dg, "message"));
			}
	}
out:
	json_object_put(o);
	return 0;
}
