/*
 * slipway history | slipway show ID: the builds kept in the state
 * directory.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fs.h"
#include "exec.h"
#include "index.h"
#include "report.h"
#include "state.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

static const char history_usage[] =
	"usage: slipway history [--project P] [--status S] [--since WHEN] "
	"[-n N]\n"
	"                       [--json] [--state-dir DIR]\n"
	"\n"
	"List what ran, oldest first, one line each under a header: start "
	"time,\n"
	"kind (build, batch, deployment, run, pipeline), id (a build as\n"
	"PROJECT#N, which 'slipway show' takes), project (a deployment's\n"
	"application, a pipeline's name), status, duration, and why one did "
	"not\n"
	"succeed. Something still running is IN_PROGRESS (InProgress); one\n"
	"slipway was killed in, without a report, is FAULT (Failed).\n"
	"\n"
	"      --project P       only project (application, pipeline) P\n"
	"      --status S        only status S (any case: failed, "
	"SUCCEEDED)\n"
	"      --since WHEN      only what started in the last WHEN (90s, "
	"10m,\n"
	"                        2h, 3d) or since a date (2026-01-31, or\n"
	"                        2026-01-31T14:00)\n"
	"  -n, --limit N         only the last N\n"
	"      --json            a JSON array, one object each\n"
	"      --state-dir DIR   state directory (default .slipway or\n"
	"                        $SLIPWAY_STATE_DIR)\n"
	"  -h, --help            this help\n"
	"\n"
	"Examples:\n"
	"  slipway history -n 5\n"
	"  slipway history --status failed --since 1d\n";

static const char show_usage[] =
	"usage: slipway show ID [--state-dir DIR] [--json]\n"
	"\n"
	"Show one build: its status, artifact, log and phase table. ID is a\n"
	"build id (<project>:<uuid>), a unique prefix of one or of its uuid,\n"
	"a build number (PROJECT#N, or N when one project has a build N).\n"
	"Or one deployment (d-XXXXXXXXX, or a unique prefix): its status,\n"
	"group, revision, error, and a table of hosts by lifecycle event. Or\n"
	"a pipeline execution (pe-...), a run or a batch, by id or a unique\n"
	"prefix.\n"
	"\n"
	"      --json            print the JSON report as it is\n"
	"      --state-dir DIR   state directory\n"
	"  -h, --help            this help\n"
	"\n"
	"Examples:\n"
	"  slipway show hello#3             # a build, by its number\n"
	"  slipway show hello:3f2a          # a build, by a prefix of its id\n"
	"  slipway show d-AB12CD34E --json  # a deployment's report\n";

enum { OPT_STATE_DIR = 256, OPT_JSON, OPT_PROJECT, OPT_STATUS, OPT_SINCE };

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "limit", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "project", required_argument, NULL, OPT_PROJECT },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct hopts {
	const char *state_dir;
	long limit;
	int json;
	const char *id;
	const char *project, *status;
	int64_t since_ms; /* 0: no bound */
};

/* --since: a duration back from now (90s, 10m, 2h, 3d) or a local date
 * (2026-01-31, 2026-01-31T14:00, 2026-01-31 14:00:05). */
static int parse_since(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *end;
	int64_t d;
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == 'd') {
		char *e2;
		long days = strtol(s, &e2, 10);

		if (e2 == s + n - 1 && days > 0 && days < 100000) {
			*ms = (int64_t)time(NULL) * 1000 -
			      (int64_t)days * 86400000;
			return 0;
		}
	}
	if (cli_parse_duration(s, &d) == 0) {
		*ms = (int64_t)time(NULL) * 1000 - d;
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && (*end == 'T' || *end == ' '))
		end = strptime(end + 1, "%H:%M", &tm);
	if (end && *end == ':')
		end = strptime(end + 1, "%S", &tm);
	if (!end || *end)
		return -1;
	tm.tm_isdst = -1;
	*ms = (int64_t)mktime(&tm) * 1000;
	return 0;
}

static int parse(const char *cmd, const char *usage, int argc, char **argv,
		 struct hopts *h, int *done)
{
	int c;

	*done = 0;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			h->state_dir = optarg;
			break;
		case 'n': {
			char *end;

			if (strcmp(cmd, "history"))
				return cli_usage_error(cmd,
						       "unknown option '-n'");

			h->limit = strtol(optarg, &end, 10);
			if (*end || h->limit < 0)
				return cli_usage_error(cmd, "bad -n '%s'",
						       optarg);
			break;
		}
		case OPT_JSON:
			h->json = 1;
			break;
		case OPT_PROJECT:
		case OPT_STATUS:
		case OPT_SINCE:
			if (strcmp(cmd, "history"))
				return cli_bad_option(cmd, argv[optind - 1],
						      options);
			if (c == OPT_PROJECT)
				h->project = optarg;
			else if (c == OPT_STATUS)
				h->status = optarg;
			else if (parse_since(optarg, &h->since_ms) < 0)
				return cli_usage_error(
					cmd,
					"--since: '%s' is neither a duration "
					"(90s, 10m, 2h, 3d) nor a date "
					"(2026-01-31)",
					optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			*done = 1;
			return 0;
		default:
			return cli_bad_option(cmd, argv[optind - 1], options);
		}
	}
	if (optind < argc)
		h->id = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cmd, "too many arguments");
	return 0;
}

/* The build number on the log's first line ("... build <id> #<n>"). */
static long log_build_number(const char *log)
{
	char head[1024], *p;
	ssize_t n;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, head, sizeof(head) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	head[n] = '\0';
	if ((p = strchr(head, '\n')))
		*p = '\0';
	p = strrchr(head, '#');
	return p ? strtol(p + 1, NULL, 10) : 0;
}

/* One line of `slipway history`, whatever ran. */
struct hrow {
	const char *kind; /* build batch deployment run pipeline */
	char *id; /* what `show` takes: PROJECT#N for a build */
	char *full_id;
	char *project;
	char *status;
	int64_t start_ms, end_ms;
	char *note; /* why it did not succeed, hosts, ... or NULL */
};

struct hrows {
	struct hrow *v;
	size_t nr, alloc;
};

static struct hrow *add_row(struct hrows *r, const char *kind)
{
	struct hrow *w;

	ALLOC_GROW(r->v, r->nr + 1, r->alloc);
	w = &r->v[r->nr++];
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	return w;
}

static void hrows_release(struct hrows *r)
{
	for (size_t i = 0; i < r->nr; i++) {
		free(r->v[i].id);
		free(r->v[i].full_id);
		free(r->v[i].project);
		free(r->v[i].status);
		free(r->v[i].note);
	}
	free(r->v);
}

/*
 * A build or deployment the store still calls in progress: running while
 * its process holds its log locked; else it ended without a report
 * (slipway was killed), and the row says so.
 */
static void unfinished(struct hrow *w, const char *dir, bool deploy)
{
	const char *db = getenv("SLIPWAY_DB");
	char *log;
	bool running;
	struct stat sb;

	/* a store many machines share (PostgreSQL) holds what the others
	 * run: without its directory here, the store's word stands */
	if (db && store_is_postgres(db) && !fs_exists(dir))
		return;
	log = fs_join(dir, deploy ? "deployment.log" : "build.log");
	running = fs_lock_held(log) == 1;

	if (!w->start_ms && stat(log, &sb) == 0)
		w->start_ms = (int64_t)sb.st_mtime * 1000;
	free(w->status);
	if (deploy)
		w->status = xstrdup(running ? "InProgress" : "Failed");
	else
		w->status = xstrdup(running ? "IN_PROGRESS" : "FAULT");
	free(w->note);
	w->note = running ? NULL
			  : xstrdup(deploy ? "ended without a report (killed)"
					   : "ended without a report (slipway "
					     "was killed); see its build.log");
	free(log);
}

static void build_row(struct hrows *r, const struct state *st,
		      const struct store_build *b)
{
	struct hrow *w = add_row(r, "build");

	w->full_id = xstrdup(b->id);
	w->project = xstrdup(b->project ? b->project : "");
	w->id = b->number ? xasprintf("%s#%ld", w->project, b->number)
			  : xstrdup(b->id);
	w->status = xstrdup(b->status ? b->status : "");
	w->start_ms = b->start_ms;
	w->end_ms = b->end_ms;
	w->note = b->reason && *b->reason ? xstrdup(b->reason) : NULL;
	if (!strcmp(w->status, "IN_PROGRESS")) {
		char *dir = state_build_dir(st, b->id);
		char *p = fs_join(dir, "report.json");
		struct store_build rb;
		struct sw_err e = SW_ERR_INIT;

		if (!fs_exists(p)) {
			unfinished(w, dir, false);
		} else if (report_build_row(p, &rb, &e) == 0) {
			/* the end was not recorded: the report tells */
			free(w->status);
			w->status = xstrdup(rb.status ? rb.status : "");
			w->end_ms = rb.end_ms;
			free(w->note);
			w->note = rb.reason && *rb.reason ? xstrdup(rb.reason)
							  : NULL;
			store_build_release(&rb);
		}
		free(p);
		free(dir);
	}
}

static void deploy_row(struct hrows *r, const struct state *st,
		       const struct store_deployment *d)
{
	struct hrow *w = add_row(r, "deployment");
	bool rollback = d->creator && !strcmp(d->creator, "codeDeployRollback");

	w->id = xstrdup(d->id);
	w->full_id = xstrdup(d->id);
	w->project = xasprintf("%s/%s", d->application ? d->application : "",
			       d->group ? d->group : "");
	w->status = xstrdup(d->status ? d->status : "");
	w->start_ms = d->start_ms;
	w->end_ms = d->end_ms;
	if (d->hosts_total >= 0)
		w->note = xasprintf("%ld/%ld hosts%s", d->hosts_succeeded,
				    d->hosts_total,
				    rollback ? " (rollback)" : "");
	else if (rollback)
		w->note = xstrdup("(rollback)");
	else if (!strcmp(w->status, "Failed") && d->report_path) {
		/* one whose worker was lost: what hosts it reached is not
		 * known; its report says why (pipeline/queue.h) */
		json_object *o = json_object_from_file(d->report_path), *ei;

		if (o &&
		    json_object_object_get_ex(o, "errorInformation", &ei) &&
		    json_object_object_get_ex(ei, "message", &ei))
			w->note = xstrdup(json_object_get_string(ei));
		json_object_put(o);
	}
	if (!strcmp(w->status, "Ready")) {
		/* waiting for `deploy continue` while its process lives */
		char *dir = xasprintf("%s/deployments/%s", st->dir, d->id);

		unfinished(w, dir, true);
		if (!strcmp(w->status, "InProgress")) {
			free(w->status);
			w->status = xstrdup("Ready");
		}
		free(dir);
	} else if (!strcmp(w->status, "InProgress")) {
		char *dir = xasprintf("%s/deployments/%s", st->dir, d->id);
		char *p = fs_join(dir, "report.json");
		struct store_deployment rd;
		struct sw_err e = SW_ERR_INIT;

		if (!fs_exists(p)) {
			unfinished(w, dir, true);
		} else if (report_deploy_row(p, &rd, &e) == 0) {
			free(w->status);
			w->status = xstrdup(rd.status ? rd.status : "");
			w->end_ms = rd.end_ms;
			store_deployment_release(&rd);
		}
		free(p);
		free(dir);
	}
}

/* "1733480000.123" or an ISO time, as the reports write times. */
static int64_t json_ms(json_object *o, const char *key)
{
	json_object *v;
	struct tm tm = { 0 };
	const char *s;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int))
		return (int64_t)(json_object_get_double(v) * 1000.0);
	s = json_object_get_string(v);
	if (s && strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return (int64_t)timegm(&tm) * 1000;
	return 0;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/*
 * Runs (<state>/runs/<id>/report.json) and batches (<state>/batches/
 * <project>-<uuid>/report.json): few, read from their reports. One
 * without a report is running, or was killed.
 */
static void scan_kind(struct hrows *r, const struct state *st, bool batches)
{
	char *top = fs_join(st->dir, batches ? "batches" : "runs");
	DIR *d = opendir(top);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *dir, *p;
		json_object *o, *b;
		struct hrow *w;
		struct stat sb;
		const char *v;

		if (de->d_name[0] == '.')
			continue;
		dir = fs_join(top, de->d_name);
		if (lstat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			free(dir); /* a batch's id is a link to its dir */
			continue;
		}
		p = fs_join(dir, "report.json");
		o = json_object_from_file(p);
		w = add_row(r, batches ? "batch" : "run");
		if (batches) {
			w->full_id = xstrdup(
				(v = json_str(o, "id")) ? v : de->d_name);
			w->project = xstrdup(
				(v = json_str(o, "projectName")) ? v : "");
			w->status = xstrdup(
				(v = json_str(o, "buildBatchStatus")) ? v : "");
			w->start_ms = json_ms(o, "startTime");
			w->end_ms = json_ms(o, "endTime");
		} else {
			w->full_id = xstrdup(de->d_name);
			b = NULL;
			if (o)
				json_object_object_get_ex(o, "build", &b);
			w->project = xstrdup(
				(v = json_str(b, "projectName")) ? v : "");
			w->status =
				xstrdup((v = json_str(o, "status")) ? v : "");
			w->start_ms = json_ms(b, "startTime");
			if (o && stat(p, &sb) == 0)
				w->end_ms = (int64_t)sb.st_mtime * 1000;
			if ((v = json_str(o, "message")))
				w->note = xstrdup(v);
		}
		w->id = xstrdup(w->full_id);
		if (!o) {
			char *lock = fs_join(dir, batches ? "batch.log"
							  : "run.lock");
			bool running = fs_lock_held(lock) == 1;

			if (stat(lock, &sb) == 0)
				w->start_ms = (int64_t)sb.st_mtime * 1000;
			free(w->status);
			w->status = xstrdup(running ? "IN_PROGRESS" : "FAULT");
			if (!running)
				w->note = xstrdup("ended without a report "
						  "(slipway was killed)");
			free(lock);
		}
		json_object_put(o);
		free(p);
		free(dir);
	}
	if (d)
		closedir(d);
	free(top);
}

/* The builds and deployments as their reports tell, for a store that
 * cannot be opened. */
static void scan_records(struct hrows *r, struct state *st)
{
	struct strvec ids = STRVEC_INIT, deps = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (state_list_records(st, false, &ids, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	err_clear(&e);
	if (state_list_records(st, true, &deps, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	for (size_t i = 0; i < ids.nr; i++) {
		char *dir = state_build_dir(st, ids.v[i]);
		char *p = fs_join(dir, "report.json");
		struct store_build b;

		err_clear(&e);
		if (fs_exists(p) && report_build_row(p, &b, &e) == 0) {
			build_row(r, st, &b);
			store_build_release(&b);
		} else if (!fs_exists(p)) {
			struct hrow *w = add_row(r, "build");
			char *log = fs_join(dir, "build.log");
			long n = log_build_number(log);
			size_t len;

			w->full_id = xstrdup(ids.v[i]);
			len = strlen(w->full_id);
			if (len > 37 && w->full_id[len - 37] == '-')
				w->full_id[len - 37] = ':';
			w->project =
				xstrndup(w->full_id, len > 37 ? len - 37 : len);
			w->id = n ? xasprintf("%s#%ld", w->project, n)
				  : xstrdup(w->full_id);
			unfinished(w, dir, false);
			free(log);
		}
		free(dir);
		free(p);
	}
	for (size_t i = 0; i < deps.nr; i++) {
		char *dir = xasprintf("%s/deployments/%s", st->dir, deps.v[i]);
		char *p = fs_join(dir, "report.json");
		struct store_deployment d;

		err_clear(&e);
		if (fs_exists(p) && report_deploy_row(p, &d, &e) == 0) {
			deploy_row(r, st, &d);
			store_deployment_release(&d);
		} else if (!fs_exists(p)) {
			struct hrow *w = add_row(r, "deployment");

			w->id = xstrdup(deps.v[i]);
			w->full_id = xstrdup(deps.v[i]);
			w->project = xstrdup("");
			unfinished(w, dir, true);
		}
		free(dir);
		free(p);
	}
	strvec_release(&deps);
	strvec_release(&ids);
}

static int by_start(const void *a, const void *b)
{
	const struct hrow *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms < y->start_ms ? -1 : 1;
	return strcmp(x->full_id, y->full_id);
}

/* "failed" matches FAILED and Failed; "in-progress", "in_progress" and
 * "InProgress" match alike. */
static bool status_is(const char *status, const char *want)
{
	for (;;) {
		while (*status == '_' || *status == '-')
			status++;
		while (*want == '_' || *want == '-')
			want++;
		if (!*status || !*want)
			return !*status && !*want;
		if (tolower((unsigned char)*status) !=
		    tolower((unsigned char)*want))
			return false;
		status++, want++;
	}
}

static bool keep(const struct hrow *w, const struct hopts *h)
{
	if (h->project && strcmp(w->project, h->project) &&
	    !(!strcmp(w->kind, "deployment") &&
	      !strncmp(w->project, h->project, strlen(h->project)) &&
	      w->project[strlen(h->project)] == '/'))
		return false;
	if (h->status && !status_is(w->status, h->status))
		return false;
	if (h->since_ms && w->start_ms < h->since_ms)
		return false;
	return true;
}

/* Seconds with milliseconds, as the reports write times; NULL for 0. */
static json_object *jsec(int64_t ms)
{
	char txt[32];

	if (!ms)
		return NULL;
	snprintf(txt, sizeof(txt), "%lld.%03lld", (long long)(ms / 1000),
		 (long long)(ms % 1000));
	return json_object_new_double_s((double)ms / 1000.0, txt);
}

static void print_json(const struct hrows *r, size_t from)
{
	json_object *a = json_object_new_array();

	for (size_t i = from; i < r->nr; i++) {
		const struct hrow *w = &r->v[i];
		json_object *o = json_object_new_object();
		const char *hash = strrchr(w->id, '#');

		json_object_object_add(o, "kind",
				       json_object_new_string(w->kind));
		json_object_object_add(o, "id",
				       json_object_new_string(w->full_id));
		json_object_object_add(o, "project",
				       json_object_new_string(w->project));
		if (!strcmp(w->kind, "build") && hash)
			json_object_object_add(
				o, "number",
				json_object_new_int64(atol(hash + 1)));
		json_object_object_add(o, "status",
				       json_object_new_string(w->status));
		json_object_object_add(o, "startTime", jsec(w->start_ms));
		json_object_object_add(o, "endTime", jsec(w->end_ms));
		json_object_object_add(o, "durationSeconds",
				       w->start_ms && w->end_ms >= w->start_ms
					       ? jsec(w->end_ms - w->start_ms)
					       : NULL);
		json_object_object_add(o, "note",
				       w->note ? json_object_new_string(w->note)
					       : NULL);
		json_object_array_add(a, o);
	}
	puts(json_object_to_json_string_ext(
		a, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(a);
}

static void print_table(const struct hrows *r, size_t from)
{
	int idw = 2, pw = 7;

	for (size_t i = from; i < r->nr; i++) {
		if ((int)strlen(r->v[i].id) > idw)
			idw = (int)strlen(r->v[i].id);
		if ((int)strlen(r->v[i].project) > pw)
			pw = (int)strlen(r->v[i].project);
	}
	printf("%-19s  %-10s  %-*s  %-*s  %-11s  %8s  %s\n", "STARTED", "KIND",
	       idw, "ID", pw, "PROJECT", "STATUS", "DURATION", "NOTE");
	for (size_t i = from; i < r->nr; i++) {
		const struct hrow *w = &r->v[i];
		char when[32] = "-", dur[24] = "-";
		time_t t = (time_t)(w->start_ms / 1000);
		struct tm tm;

		if (w->start_ms) {
			localtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		}
		if (w->start_ms && w->end_ms >= w->start_ms)
			snprintf(dur, sizeof(dur), "%.1fs",
				 (double)(w->end_ms - w->start_ms) / 1000.0);
		printf("%-19s  %-10s  %-*s  %-*s  %-11s  %8s  %s\n", when,
		       w->kind, idw, w->id, pw, w->project, w->status, dur,
		       w->note ? w->note : "");
	}
}

/* The store's rows (or, without a store, the reports'), and the runs'
 * and batches' reports. */
static void collect(struct state *st, struct hrows *r)
{
	struct store_query q = STORE_QUERY_INIT;
	struct store_build *bv = NULL;
	struct store_deployment *dv = NULL;
	struct store_execution *xv = NULL;
	struct sw_err e = SW_ERR_INIT;
	struct store *s = NULL;
	size_t bn = 0, dn = 0, xn = 0;

	if (index_open(st, &s, &e) < 0 ||
	    store_list_builds(s, &q, &bv, &bn, &e) < 0 ||
	    store_list_deployments(s, &q, &dv, &dn, &e) < 0) {
		fprintf(stderr, "warning: %s; reading the reports instead\n",
			e.msg);
		scan_records(r, st);
	} else {
		for (size_t i = 0; i < bn; i++)
			build_row(r, st, &bv[i]);
		for (size_t i = 0; i < dn; i++)
			deploy_row(r, st, &dv[i]);
		if (store_list_executions(s, &q, &xv, &xn, &e) < 0)
			fprintf(stderr, "warning: %s\n", e.msg);
		for (size_t i = 0; i < xn; i++) {
			struct hrow *w = add_row(r, "pipeline");

			w->id = xstrdup(xv[i].id);
			w->full_id = xstrdup(xv[i].id);
			w->project = xstrdup(xv[i].pipeline);
			w->status = xstrdup(xv[i].status);
			w->start_ms = xv[i].start_ms;
			w->end_ms = xv[i].end_ms;
			if (xv[i].status_summary && *xv[i].status_summary)
				w->note = xstrdup(xv[i].status_summary);
		}
	}
	scan_kind(r, st, true);
	scan_kind(r, st, false);
	store_builds_free(bv, bn);
	store_deployments_free(dv, dn);
	store_executions_free(xv, xn);
	store_close(s);
}

int cmd_history(int argc, char **argv)
{
	struct hopts h = { 0 };
	struct state st = STATE_INIT;
	struct hrows r = { 0 };
	size_t kept = 0, from = 0;
	int done, ret;

	if ((ret = parse("history", history_usage, argc, argv, &h, &done)) ||
	    done)
		return ret;
	if (h.id)
		return cli_usage_error("history", "unexpected '%s'", h.id);
	/* a history is read: no state directory is made for it */
	st.dir = state_path(h.state_dir);
	if (fs_is_dir(st.dir))
		collect(&st, &r);
	if (r.nr)
		qsort(r.v, r.nr, sizeof(*r.v), by_start);
	for (size_t i = 0; i < r.nr; i++)
		if (keep(&r.v[i], &h))
			r.v[kept++] = r.v[i];
		else
			free(r.v[i].id), free(r.v[i].full_id),
				free(r.v[i].project), free(r.v[i].status),
				free(r.v[i].note);
	r.nr = kept;
	if (h.limit && r.nr > (size_t)h.limit)
		from = r.nr - (size_t)h.limit;
	if (h.json && !r.nr)
		puts("[]");
	else if (h.json)
		print_json(&r, from);
	else if (!r.nr)
		fprintf(stderr, "no builds or deployments in %s\n", st.dir);
	else
		print_table(&r, from);
	hrows_release(&r);
	state_release(&st);
	return 0;
}

/* Print a report file as it is (--json). */
static int print_file(const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	char *data;
	size_t len;

	if (fs_read_file(path, 64 << 20, &data, &len, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code;
	}
	fwrite(data, 1, len, stdout);
	free(data);
	return 0;
}

/* Does want name row w: its id or handle exactly, a build number alone
 * (N), or a prefix of its id or of a build's uuid. 2: exactly, 1: a
 * prefix or a bare number, 0: no. */
static int matches(const struct hrow *w, const char *want)
{
	size_t len = strlen(want);
	const char *colon = strchr(w->full_id, ':');
	const char *hash = strrchr(w->id, '#');

	if (!strcmp(w->full_id, want) || !strcmp(w->id, want))
		return 2;
	if (!strcmp(w->kind, "build") && hash && want[0] &&
	    strspn(want, "0123456789") == len)
		return !strcmp(hash + 1, want);
	if (!strncmp(w->full_id, want, len))
		return 1;
	if (!strcmp(w->kind, "build") && colon &&
	    !strncmp(colon + 1, want, len))
		return 1;
	/* the directory name of a build, <project>-<uuid> */
	if (!strcmp(w->kind, "build")) {
		char *name = state_build_name(w->full_id);
		int m = !strncmp(name, want, len);

		free(name);
		return m;
	}
	return 0;
}

static int show_row(struct state *st, const struct hrow *w, bool json)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir, *p;
	int ret = 0;

	if (!strcmp(w->kind, "pipeline"))
		return exec_show(st->dir, w->full_id, json);
	if (!strcmp(w->kind, "build"))
		dir = state_build_dir(st, w->full_id);
	else if (!strcmp(w->kind, "deployment"))
		dir = xasprintf("%s/deployments/%s", st->dir, w->full_id);
	else
		dir = xasprintf("%s/%s/%s", st->dir,
				!strcmp(w->kind, "run") ? "runs" : "batches",
				w->full_id);
	p = fs_join(dir, "report.json");
	if (!fs_exists(p)) {
		fprintf(stderr,
			"error: %s %s has no report: %s; see its log in %s\n",
			w->kind, w->id,
			strstr(w->status, "ROGRESS") ||
					!strcmp(w->status, "InProgress")
				? "it is running"
				: "it ended without one",
			dir);
		ret = ERR_FAILED;
	} else if (json) {
		ret = print_file(p);
	} else if (!strcmp(w->kind, "build")) {
		report_show(p, stdout, &e);
	} else if (!strcmp(w->kind, "deployment")) {
		report_deploy_show(p, stdout, &e);
	} else {
		printf("%-9s %s\nproject:  %s\nstatus:   %s\n%s%s%sreport:   "
		       "%s\n",
		       !strcmp(w->kind, "run") ? "run:" : "batch:", w->full_id,
		       w->project, w->status, w->note ? "message:  " : "",
		       w->note ? w->note : "", w->note ? "\n" : "", p);
	}
	if (e.code) {
		fprintf(stderr, "error: %s\n", e.msg);
		ret = e.code;
	}
	free(p);
	free(dir);
	return ret;
}

int cmd_show(int argc, char **argv)
{
	struct hopts h = { 0 };
	struct state st = STATE_INIT;
	struct hrows r = { 0 };
	size_t exact = 0, nr_exact = 0, nr_pre = 0, pre = 0;
	int done, ret;

	if ((ret = parse("show", show_usage, argc, argv, &h, &done)) || done)
		return ret;
	if (!h.id)
		return cli_usage_error("show", "no build id given");
	/* shown, not made: no state directory is created for it */
	st.dir = state_path(h.state_dir);
	if (fs_is_dir(st.dir))
		collect(&st, &r);
	if (r.nr)
		qsort(r.v, r.nr, sizeof(*r.v), by_start);
	for (size_t i = 0; i < r.nr; i++) {
		int m = matches(&r.v[i], h.id);

		if (m == 2)
			exact = i, nr_exact++;
		else if (m == 1)
			pre = i, nr_pre++;
	}
	if (nr_exact == 1 || (!nr_exact && nr_pre == 1)) {
		ret = show_row(&st, &r.v[nr_exact ? exact : pre], h.json);
	} else if (!nr_exact && !nr_pre) {
		fprintf(stderr,
			"error: no build, deployment or run '%s' in %s\n", h.id,
			st.dir);
		ret = ERR_USAGE;
	} else {
		size_t shown = 0;

		fprintf(stderr, "error: '%s' names %zu records:", h.id,
			nr_exact ? nr_exact : nr_pre);
		for (size_t i = 0; i < r.nr && shown < 5; i++)
			if (matches(&r.v[i], h.id) == (nr_exact ? 2 : 1)) {
				fprintf(stderr, " %s", r.v[i].id);
				shown++;
			}
		fprintf(stderr, "%s\n",
			(nr_exact ? nr_exact : nr_pre) > shown ? " ..." : "");
		ret = ERR_USAGE;
	}
	hrows_release(&r);
	state_release(&st);
	return ret;
}
