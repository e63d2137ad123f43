/*
 * slipway prune: reclaim the state directory's space. Old builds (source
 * tree, log, report, artifacts), old deployments (log, report) and the
 * records of old runs and batches go by count per project, deployment
 * group (runs all together) and by age; what killed runs left
 * (temporaries, the trash of retired trees) goes too. A running build,
 * deployment, run or batch, whose log (a run's run.lock) its process
 * holds locked, is never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "cli.h"
#include "fs.h"
#include "index.h"
#include "queue.h"
#include "state.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

/* Kept per project (and per deployment group) when no option is given. */
#define PRUNE_KEEP_DEFAULT 20
/* A build directory without a log this young may be starting. */
#define PRUNE_STARTING_SECONDS 60
/* Finished jobs (and stopped uploads) older than this go without
 * --older-than: their runners read a job's end within a poll. */
#define PRUNE_JOBS_SECONDS 3600

static const char prune_usage[] =
	"usage: slipway prune [--keep N] [--older-than DURATION] [--dry-run]\n"
	"                     [--state-dir DIR]\n"
	"\n"
	"Reclaim space in the state directory: remove old builds (source\n"
	"tree, build.log, report, artifacts), old deployments\n"
	"(deployment.log, report), old runs' and batches' records (runs/,\n"
	"batches/), what killed runs left behind (temporary files,\n"
	"retired trees), and the source trees kept for later builds.\n"
	"With a job queue (docs/scale.md): its finished jobs, the artifacts\n"
	"workers sent that no job left names, and stopped uploads.\n"
	"\n"
	"  --keep N              keep the newest N builds and batches of each\n"
	"                        project, deployments of each deployment\n"
	"                        group, and runs (0: none)\n"
	"  --older-than DURATION remove only what ended more than DURATION\n"
	"                        ago: 30m, 12h, 7d, 2w (units s m h d w)\n"
	"      --dry-run         print what would be removed, remove nothing\n"
	"      --state-dir DIR   state directory (default .slipway or\n"
	"                        $SLIPWAY_STATE_DIR)\n"
	"  -h, --help            this help\n"
	"\n"
	"Without --keep or --older-than, the newest 20 of each project and\n"
	"group (and 20 runs) are kept. With both, what goes is beyond the "
	"newest N and\n"
	"older than DURATION. A running build, deployment, run or batch is "
	"never\n"
	"removed, nor the build whose artifact 'slipway run' is deploying;\n"
	"one that was killed (no report) is removed like any other.\n"
	"Finished jobs go once they ended more than DURATION ago (without\n"
	"--older-than, an hour ago), whatever --keep says.\n"
	"Artifacts written with -o DIR outside the state directory stay.\n"
	"\n"
	"Examples:\n"
	"  slipway prune                          # keep 20 per project\n"
	"  slipway prune --keep 5 --older-than 7d\n"
	"  slipway prune --older-than 12h --dry-run\n";

enum { OPT_STATE_DIR = 256, OPT_KEEP, OPT_OLDER, OPT_DRY_RUN };

static const struct option options[] = {
	{ "keep", required_argument, NULL, OPT_KEEP },
	{ "older-than", required_argument, NULL, OPT_OLDER },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct popts {
	const char *state_dir;
	long keep; /* -1: not given */
	int64_t older; /* seconds, -1: not given */
	int dry_run;
};

/* "7d", "12h", "30m", "90s", "2w", "1d12h"; a unit is required. */
/* What the queue part of prune removed. */
struct qtotals {
	size_t jobs, blobs;
	uint64_t bytes;
};

static void add_artifact(struct strvec *keep, const char *result)
{
	json_object *o = result ? json_tokener_parse(result) : NULL, *x;

	if (o && json_object_object_get_ex(o, "artifact", &x) &&
	    blob_is_digest(json_object_get_string(x)))
		strvec_push(keep, json_object_get_string(x));
	json_object_put(o);
}

/*
 * The job queue's finished jobs that ended before the cutoff (--older-than,
 * else an hour ago), then the blobs workers sent (<state>/blobs/SHA256)
 * that no job left in the store names as its result, once a minute old
 * (a worker sends its blob before it reports the job that names it), and
 * uploads that stopped (SHA256.part) before the cutoff.
 */
static void prune_queue(const char *state, const struct popts *o,
			struct store *s, struct qtotals *t)
{
	int64_t now = queue_wall_ms();
	int64_t cut =
		now - (o->older >= 0 ? o->older : PRUNE_JOBS_SECONDS) * 1000;
	struct store_job *v = NULL;
	struct strvec keep = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *blobs = fs_join(state, "blobs");
	struct dirent *de;
	size_t nr = 0;
	DIR *d;

	if (!s)
		goto out;
	if (store_list_jobs(s, NULL, &v, &nr, &e) < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		goto out;
	}
	for (size_t i = 0; i < nr; i++) {
		if (!strcmp(v[i].status, "done") && v[i].ended_ms < cut)
			t->jobs++;
		else
			add_artifact(&keep, v[i].result);
	}
	if (t->jobs && !o->dry_run && store_job_prune(s, cut, &e) < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		t->jobs = 0;
		goto out;
	}
	d = opendir(blobs);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		bool part = n == 69 && !strcmp(de->d_name + 64, ".part");
		char hex[65];
		struct stat sb;
		char *p;

		if (n != 64 && !part)
			continue;
		memcpy(hex, de->d_name, 64);
		hex[64] = 0;
		if (!blob_is_digest(hex) ||
		    (!part && strvec_find(&keep, hex) >= 0))
			continue;
		p = fs_join(blobs, de->d_name);
		if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
		    (int64_t)sb.st_mtime * 1000 <
			    (part ? cut
				  : now - PRUNE_STARTING_SECONDS * 1000) &&
		    (o->dry_run || unlink(p) == 0)) {
			t->blobs++;
			t->bytes += (uint64_t)sb.st_size;
		}
		free(p);
	}
	if (d)
		closedir(d);
out:
	store_jobs_free(v, nr);
	strvec_release(&keep);
	free(blobs);
}

static int parse_age(const char *s, int64_t *sec)
{
	int64_t total = 0;

	if (!*s)
		return -1;
	while (*s) {
		char *end;
		long long v;
		int64_t unit;

		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || v > 100LL * 365 * 86400)
			return -1;
		switch (*end) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -1;
		}
		total += (int64_t)v * unit;
		s = end + 1;
	}
	*sec = total;
	return 0;
}

/* What a record directory is. */
enum kind { K_BUILD, K_DEPLOY, K_RUN, K_BATCH };

/* Its directory under the state directory, its lock (held while it
 * runs), what it is called. */
static const struct {
	const char *dir, *log, *what;
} kinds[] = {
	[K_BUILD] = { "builds", "build.log", "build" },
	[K_DEPLOY] = { "deployments", "deployment.log", "deployment" },
	[K_RUN] = { "runs", "run.lock", "run" },
	[K_BATCH] = { "batches", "batch.log", "batch" },
};

/* A build's or batch's directory is <project>-<uuid>, with a
 * <project>:<uuid> link to it. */
static bool by_project(enum kind k)
{
	return k == K_BUILD || k == K_BATCH;
}

/* One build, deployment, run or batch directory. */
struct rec {
	char *name; /* the directory's name */
	char *key; /* project, or application/group */
	int64_t t; /* ns: when it ended (its report), or last wrote (log) */
};

struct recs {
	struct rec *v;
	size_t nr, alloc;
	size_t running;
};

static int newest_first(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->t != y->t)
		return x->t > y->t ? -1 : 1;
	/* the same clock tick: a later name (d-...2 after d-...1) first */
	return strcmp(y->name, x->name);
}

#define NS 1000000000LL

static int64_t ns_of(struct timespec ts)
{
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static bool mtime_of(const char *path, int64_t *t)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return false;
	*t = ns_of(st.st_mtim);
	return true;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ns_of(ts);
}

/* The application/group of a deployment's report, or NULL. */
static char *deploy_key(const char *report)
{
	json_object *o = json_object_from_file(report), *a, *g;
	char *key = NULL;

	if (o && json_object_object_get_ex(o, "applicationName", &a) &&
	    json_object_object_get_ex(o, "deploymentGroupName", &g))
		key = xasprintf("%s/%s", json_object_get_string(a),
				json_object_get_string(g));
	json_object_put(o);
	return key;
}

/*
 * The records in <state>/<sub>/: builds and batches (keyed by project,
 * the name without "-<uuid>"), deployments (by application and group) or
 * runs (all one key). Running ones are counted, not listed.
 */
static int collect(const char *dir, enum kind k, struct recs *rs,
		   struct sw_err *e)
{
	const char *logname = kinds[k].log;
	bool deploy = k == K_DEPLOY;
	int64_t now = now_ns();
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0
				       : err_sys(e, "cannot read '%s'", dir);
	while ((de = readdir(d))) {
		char *path, *report, *log;
		struct rec r = { NULL, NULL, 0 };
		size_t len = strlen(de->d_name);
		struct stat st;
		bool has_report, has_log;

		if (de->d_name[0] == '.')
			continue;
		/* a build: <project>-<uuid>; its <project>:<uuid> is a link */
		if (by_project(k) && (len < 38 || de->d_name[len - 37] != '-'))
			continue;
		path = fs_join(dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(path);
			continue;
		}
		report = fs_join(path, "report.json");
		log = fs_join(path, logname);
		has_report = mtime_of(report, &r.t);
		has_log = has_report || mtime_of(log, &r.t);
		if (!has_log)
			r.t = ns_of(st.st_mtim);
		/*
		 * Its process holds the log, locked from its creation:
		 * running (or writing its report now). A log without a
		 * report, free: killed. No log yet: starting, unless old.
		 */
		if (fs_lock_held(log) == 1 ||
		    (!has_log && now - r.t < PRUNE_STARTING_SECONDS * NS)) {
			rs->running++;
		} else {
			r.name = xstrdup(de->d_name);
			if (deploy)
				r.key = has_report ? deploy_key(report) : NULL;
			else if (by_project(k))
				r.key = xstrndup(de->d_name, len - 37);
			if (!r.key)
				r.key = xstrdup("");
			ALLOC_GROW(rs->v, rs->nr + 1, rs->alloc);
			rs->v[rs->nr++] = r;
		}
		free(report);
		free(log);
		free(path);
	}
	closedir(d);
	if (rs->nr) /* v is NULL when empty: qsort's base must not be */
		qsort(rs->v, rs->nr, sizeof(*rs->v), newest_first);
	return 0;
}

static void recs_release(struct recs *rs)
{
	for (size_t i = 0; i < rs->nr; i++) {
		free(rs->v[i].name);
		free(rs->v[i].key);
	}
	free(rs->v);
}

struct totals {
	size_t removed, kept, failed;
	uint64_t bytes;
};

static void print_size(FILE *out, uint64_t n)
{
	if (n >= 1000000)
		fprintf(out, "%.1f MB", (double)n / 1e6);
	else
		fprintf(out, "%.1f kB", (double)n / 1e3);
}

/*
 * Remove what the options let go from rs (sorted by key, newest first).
 * A build also loses its id link, <project>:<uuid>.
 */
static void prune_recs(const char *dir, enum kind k, const struct recs *rs,
		       const struct popts *o, struct store *s, struct totals *t)
{
	bool deploy = k == K_DEPLOY;

	int64_t now = now_ns();
	size_t nth = 0;

	for (size_t i = 0; i < rs->nr; i++) {
		const struct rec *r = &rs->v[i];
		struct sw_err e = SW_ERR_INIT;
		char *path, *id;
		uint64_t size;

		nth = i && !strcmp(r->key, rs->v[i - 1].key) ? nth + 1 : 0;
		if ((o->keep >= 0 && nth < (size_t)o->keep) ||
		    (o->older >= 0 && now - r->t < o->older * NS)) {
			t->kept++;
			continue;
		}
		path = fs_join(dir, r->name);
		id = !by_project(k) ? xstrdup(r->name)
				    : xasprintf("%s:%s", r->key,
						r->name + strlen(r->key) + 1);
		size = fs_tree_size(path);
		if (o->dry_run) {
			printf("would remove %s %s (", kinds[k].what, id);
		} else if (fs_remove_tree(path, &e) < 0) {
			fprintf(stderr, "warning: %s\n", e.msg);
			t->failed++;
			free(path);
			free(id);
			continue;
		} else {
			printf("removed %s %s (", kinds[k].what, id);
		}
		print_size(stdout, size);
		fputs(")\n", stdout);
		if (by_project(k) && !o->dry_run) {
			char *link = fs_join(dir, id);

			unlink(link);
			free(link);
		}
		/* its row in the store's index goes with it */
		if (s && !o->dry_run && (k == K_BUILD || deploy) &&
		    (deploy ? store_delete_deployment(s, id, &e)
			    : store_delete_build(s, id, &e)) < 0)
			fprintf(stderr, "warning: %s\n", e.msg);
		t->removed++;
		t->bytes += size;
		free(path);
		free(id);
	}
}

/* Trees retired to <state>/trash/ whose deleter did not finish. */
static void prune_trash(const char *state, const struct popts *o,
			uint64_t *bytes)
{
	char *trash = fs_join(state, "trash");
	struct dirent *de;
	DIR *d = opendir(trash);

	while (d && (de = readdir(d))) {
		struct sw_err e = SW_ERR_INIT;
		char *p;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = fs_join(trash, de->d_name);
		*bytes += fs_tree_size(p);
		/* a deleter still at work may take it first: not an error */
		if (!o->dry_run)
			fs_remove_tree(p, &e);
		free(p);
	}
	if (d)
		closedir(d);
	free(trash);
}

/*
 * Source trees waiting to be recycled (sources/<key>.spare/ and .copies/,
 * prepared spares included): each is claimed by a rename into trash/ (a
 * build takes one by a rename too: never half of one), then removed with
 * the trash below.
 */
static void prune_pools(const char *state, const struct popts *o,
			uint64_t *bytes)
{
	char *sources = fs_join(state, "sources");
	char *trash = fs_join(state, "trash");
	struct sw_err e = SW_ERR_INIT;
	struct dirent *de;
	DIR *d = opendir(sources);

	while (d && (de = readdir(d))) {
		const char *dot = strrchr(de->d_name, '.');
		struct dirent *te;
		char *pool;
		DIR *pd;

		if (!dot || (strcmp(dot, ".spare") && strcmp(dot, ".copies")))
			continue;
		pool = fs_join(sources, de->d_name);
		pd = opendir(pool);
		while (pd && (te = readdir(pd))) {
			char *p, *to;

			/* retired trees and prepared spares ("<commit>.<pid>");
			 * not those being made or emptied (tmp., junk.) */
			if (strncmp(te->d_name, "used.", 5) &&
			    strncmp(te->d_name, "copy.", 5) &&
			    (strspn(te->d_name, "0123456789abcdef") != 40 ||
			     te->d_name[40] != '.'))
				continue;
			p = fs_join(pool, te->d_name);
			if (o->dry_run) {
				*bytes += fs_tree_size(p);
			} else if (fs_mkdir_p(trash, 0755, &e) == 0) {
				to = xasprintf("%s/pool-%s-%s", trash,
					       de->d_name, te->d_name);
				if (rename(p, to) < 0) {
					/* taken by a build meanwhile */
				}
				free(to);
			}
			err_clear(&e);
			free(p);
		}
		if (pd)
			closedir(pd);
		free(pool);
	}
	if (d)
		closedir(d);
	free(trash);
	free(sources);
}

int cmd_prune(int argc, char **argv)
{
	/* Not descended into: big trees that never hold our temporaries. */
	static const char *const skip[] = { "codebuild",  "src",     "root",
					    "cache-root", "sources", "trash",
					    "objects",	  "bin",     "tmp",
					    NULL };
	struct popts o = { NULL, -1, -1, 0 };
	struct qtotals qt = { 0 };
	struct recs rs[4] = { { 0 } };
	struct totals t[4] = { { 0 } };
	size_t running = 0;
	struct fs_sweep sw = { 0 };
	struct sw_err e = SW_ERR_INIT;
	uint64_t trash = 0;
	char *state = NULL, *dirs[4] = { NULL }, *db = NULL;
	struct store *s = NULL;
	int c, ret = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_KEEP: {
			char *end;

			errno = 0;
			o.keep = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o.keep < 0 ||
			    o.keep > 1000000)
				return cli_usage_error(
					"prune", "bad --keep '%s'", optarg);
			break;
		}
		case OPT_OLDER:
			if (parse_age(optarg, &o.older) < 0)
				return cli_usage_error(
					"prune",
					"bad --older-than '%s' (give a unit: "
					"30m, 12h, 7d, 2w)",
					optarg);
			break;
		case OPT_DRY_RUN:
			o.dry_run = 1;
			break;
		case OPT_STATE_DIR:
			o.state_dir = optarg;
			break;
		case 'h':
			fputs(prune_usage, stdout);
			return 0;
		default:
			return cli_bad_option("prune", argv[optind - 1],
					      options);
		}
	}
	if (optind < argc)
		return cli_usage_error("prune", "unexpected '%s'",
				       argv[optind]);
	if (o.keep < 0 && o.older < 0)
		o.keep = PRUNE_KEEP_DEFAULT;
	state = state_path(o.state_dir);
	if (!fs_is_dir(state)) {
		fprintf(stderr, "nothing to prune: no state directory %s\n",
			state);
		goto out;
	}
	for (int k = 0; k < 4; k++) {
		dirs[k] = fs_join(state, kinds[k].dir);
		if (collect(dirs[k], k, &rs[k], &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			ret = e.code;
			goto out;
		}
		running += rs[k].running;
	}
	{
		struct state st = { state };

		/* a state directory without a store gets none from prune */
		db = index_path(&st);
		if ((!store_sqlite_path(db) ||
		     fs_exists(store_sqlite_path(db))) &&
		    index_open(&st, &s, &e) < 0) {
			fprintf(stderr, "warning: %s\n", e.msg);
			err_clear(&e);
		}
	}
	for (int k = 0; k < 4; k++)
		prune_recs(dirs[k], k, &rs[k], &o, s, &t[k]);
	prune_queue(state, &o, s, &qt);
	prune_pools(state, &o, &trash);
	prune_trash(state, &o, &trash);
	if (!o.dry_run && fs_sweep_stale_tmp(state, 4, skip, &sw, &e) < 0) {
		fprintf(stderr, "warning: %s\n", e.msg);
		err_clear(&e);
	}
	printf("%s %zu build%s and %zu deployment%s",
	       o.dry_run ? "would prune" : "pruned", t[K_BUILD].removed,
	       t[K_BUILD].removed == 1 ? "" : "s", t[K_DEPLOY].removed,
	       t[K_DEPLOY].removed == 1 ? "" : "s");
	for (int k = K_RUN; k <= K_BATCH; k++)
		if (t[k].removed)
			printf(", %zu %s%s", t[k].removed, kinds[k].what,
			       t[k].removed == 1 ? ""
			       : k == K_RUN	 ? "s"
						 : "es");
	if (qt.jobs)
		printf(", %zu finished job%s", qt.jobs,
		       qt.jobs == 1 ? "" : "s");
	if (qt.blobs)
		printf(", %zu blob%s", qt.blobs, qt.blobs == 1 ? "" : "s");
	if (sw.files)
		printf(", %zu temporary file%s", sw.files,
		       sw.files == 1 ? "" : "s");
	fputs(": ", stdout);
	print_size(stdout, t[K_BUILD].bytes + t[K_DEPLOY].bytes +
				   t[K_RUN].bytes + t[K_BATCH].bytes + trash +
				   sw.bytes + qt.bytes);
	printf(" %s; kept %zu build%s and %zu deployment%s",
	       o.dry_run ? "to reclaim" : "reclaimed", t[K_BUILD].kept,
	       t[K_BUILD].kept == 1 ? "" : "s", t[K_DEPLOY].kept,
	       t[K_DEPLOY].kept == 1 ? "" : "s");
	for (int k = K_RUN; k <= K_BATCH; k++)
		if (t[k].kept)
			printf(", %zu %s%s", t[k].kept, kinds[k].what,
			       t[k].kept == 1 ? ""
			       : k == K_RUN   ? "s"
					      : "es");
	if (running)
		printf(", %zu running", running);
	putchar('\n');
	for (int k = 0; k < 4; k++)
		if (t[k].failed)
			ret = ERR_SYSTEM;
out:
	for (int k = 0; k < 4; k++) {
		recs_release(&rs[k]);
		free(dirs[k]);
	}
	store_close(s);
	free(db);
	free(state);
	return ret;
}
