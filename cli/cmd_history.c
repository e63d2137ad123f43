/*
 * slipway history | slipway show ID: the builds kept in the state
 * directory.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "fs.h"
#include "index.h"
#include "report.h"
#include "state.h"
#include "xalloc.h"
#include "banned.h"

static const char history_usage[] =
	"usage: slipway history [--state-dir DIR] [-n N]\n"
	"\n"
	"List past builds, oldest first: number, status, start time,\n"
	"duration, id, and why one did not succeed; then past deployments:\n"
	"id, status, start time, duration, application/group, hosts that\n"
	"succeeded. A build or deployment still running is IN_PROGRESS\n"
	"(InProgress); one slipway was killed in, without a report, is\n"
	"FAULT (Failed).\n"
	"\n"
	"  -n, --limit N         only the last N builds (and deployments)\n"
	"      --state-dir DIR   state directory (default .slipway or\n"
	"                        $SLIPWAY_STATE_DIR)\n"
	"  -h, --help            this help\n"
	"\n"
	"Example:\n"
	"  slipway history -n 5\n";

static const char show_usage[] =
	"usage: slipway show ID [--state-dir DIR] [--json]\n"
	"\n"
	"Show one build: its status, artifact, log and phase table. ID is a\n"
	"build id (<project>:<uuid>), a unique prefix of one or of its uuid.\n"
	"Or one deployment (ID d-XXXXXXXXX, or a unique prefix): its status,\n"
	"group, revision, error, and a table of hosts by lifecycle event.\n"
	"\n"
	"      --json            print the JSON report as it is\n"
	"      --state-dir DIR   state directory\n"
	"  -h, --help            this help\n"
	"\n"
	"Examples:\n"
	"  slipway show hello:3f2a          # a build, by a prefix of its id\n"
	"  slipway show d-AB12CD34E --json  # a deployment's report\n";

enum { OPT_STATE_DIR = 256, OPT_JSON };

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "limit", required_argument, NULL, 'n' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct hopts {
	const char *state_dir;
	long limit;
	int json;
	const char *id;
};

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
			if (strcmp(cmd, "show"))
				return cli_bad_option(cmd, argv[optind - 1],
						      options);
			h->json = 1;
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

/*
 * A build or deployment without a report: running while its process
 * holds its log locked; else it ended without one (slipway was killed),
 * and the line says so.
 */
static void unfinished_line(const char *dir, const char *name, bool deploy)
{
	char *log = fs_join(dir, deploy ? "deployment.log" : "build.log");
	bool running = fs_lock_held(log) == 1;
	char when[32] = "", num[24] = "";
	struct stat sb;
	struct tm tm;

	if (stat(log, &sb) == 0) {
		localtime_r(&sb.st_mtime, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	}
	if (deploy) {
		printf("%-11s %-10s %s  %7s  %s\n", name,
		       running ? "InProgress" : "Failed", when, "-",
		       running ? "running" : "ended without a report (killed)");
	} else {
		char *id = xstrdup(name);
		size_t len = strlen(id);

		if (len > 37 && id[len - 37] == '-')
			id[len - 37] = ':'; /* <project>-<uuid> */
		snprintf(num, sizeof(num), "%ld", log_build_number(log));
		printf("%-5s %-10s %s  %7s  %s%s\n", num,
		       running ? "IN_PROGRESS" : "FAULT", when, "-", id,
		       running ? ""
			       : "  ended without a report (slipway was "
				 "killed); see its build.log");
		free(id);
	}
	free(log);
}

/* The old way, for a store that cannot be opened: every record's
 * directory, its report read. */
static void history_scan(struct state *st, const struct hopts *h)
{
	struct strvec ids = STRVEC_INIT, deps = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	size_t from = 0;

	if (state_list_records(st, false, &ids, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	if (h->limit && ids.nr > (size_t)h->limit)
		from = ids.nr - (size_t)h->limit;
	err_clear(&e);
	if (state_list_records(st, true, &deps, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	if (!ids.nr && !deps.nr)
		fprintf(stderr, "no builds or deployments in %s\n", st->dir);
	for (size_t i = from; i < ids.nr; i++) {
		char *dir = state_build_dir(st, ids.v[i]);
		char *p = fs_join(dir, "report.json");

		err_clear(&e);
		if (!fs_exists(p))
			unfinished_line(dir, ids.v[i], false);
		else if (report_summary_line(p, stdout, &e) < 0)
			fprintf(stderr, "warning: %s\n", e.msg);
		free(dir);
		free(p);
	}
	from = h->limit && deps.nr > (size_t)h->limit
		       ? deps.nr - (size_t)h->limit
		       : 0;
	if (deps.nr && ids.nr)
		putchar('\n');
	for (size_t i = from; i < deps.nr; i++) {
		char *dir = xasprintf("%s/deployments/%s", st->dir, deps.v[i]);
		char *p = fs_join(dir, "report.json");

		err_clear(&e);
		if (!fs_exists(p))
			unfinished_line(dir, deps.v[i], true);
		else if (report_deploy_summary_line(p, stdout, &e) < 0)
			fprintf(stderr, "warning: %s\n", e.msg);
		free(dir);
		free(p);
	}
	strvec_release(&deps);
	strvec_release(&ids);
}

/*
 * A row of the index still IN_PROGRESS: running, or its slipway was
 * killed (the log's lock tells), or its end was not recorded (the
 * report tells). Only these touch the disk.
 */
static void build_row_line(const struct state *st, const struct store_build *b)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir, *p, *name;

	if (strcmp(b->status, "IN_PROGRESS")) {
		report_build_line(b, stdout);
		return;
	}
	dir = state_build_dir(st, b->id);
	p = fs_join(dir, "report.json");
	name = state_build_name(b->id);
	if (!fs_exists(p))
		unfinished_line(dir, name, false);
	else if (report_summary_line(p, stdout, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	free(name);
	free(p);
	free(dir);
}

static void deploy_row_line(const struct state *st,
			    const struct store_deployment *d)
{
	struct sw_err e = SW_ERR_INIT;
	char *dir, *p;

	if (strcmp(d->status, "InProgress")) {
		report_deploy_line(d, stdout);
		return;
	}
	dir = xasprintf("%s/deployments/%s", st->dir, d->id);
	p = fs_join(dir, "report.json");
	if (!fs_exists(p))
		unfinished_line(dir, d->id, true);
	else if (report_deploy_summary_line(p, stdout, &e) < 0)
		fprintf(stderr, "warning: %s\n", e.msg);
	free(p);
	free(dir);
}

int cmd_history(int argc, char **argv)
{
	struct hopts h = { 0 };
	struct state st = STATE_INIT;
	struct store_query q = STORE_QUERY_INIT;
	struct store_build *bv = NULL;
	struct store_deployment *dv = NULL;
	struct sw_err e = SW_ERR_INIT;
	struct store *s = NULL;
	size_t bn = 0, dn = 0;
	int done, ret;

	if ((ret = parse("history", history_usage, argc, argv, &h, &done)) ||
	    done)
		return ret;
	if (h.id)
		return cli_usage_error("history", "unexpected '%s'", h.id);
	if (state_open(&st, h.state_dir, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code;
	}
	q.limit = h.limit;
	if (index_open(&st, &s, &e) < 0 ||
	    store_list_builds(s, &q, &bv, &bn, &e) < 0 ||
	    store_list_deployments(s, &q, &dv, &dn, &e) < 0) {
		fprintf(stderr, "warning: %s; reading the reports instead\n",
			e.msg);
		history_scan(&st, &h);
		goto out;
	}
	if (!bn && !dn)
		fprintf(stderr, "no builds or deployments in %s\n", st.dir);
	/* the store lists newest first; history reads oldest first */
	for (size_t i = bn; i-- > 0;)
		build_row_line(&st, &bv[i]);
	if (bn && dn)
		putchar('\n');
	for (size_t i = dn; i-- > 0;)
		deploy_row_line(&st, &dv[i]);
out:
	store_builds_free(bv, bn);
	store_deployments_free(dv, dn);
	store_close(s);
	state_release(&st);
	return 0;
}

/* The one build matching id exactly or by a unique prefix of the id or
 * of its uuid. ids are directory names: <project>-<uuid>. */
static char *find_build(const struct strvec *ids, const char *id)
{
	char *want = state_build_name(id);
	const char *match = NULL;
	size_t len = strlen(want);
	int n = 0;

	for (size_t i = 0; i < ids->nr; i++) {
		const char *cand = ids->v[i];
		size_t cl = strlen(cand);
		/* the uuid is the last 36 characters */
		const char *uuid = cl > 36 ? cand + cl - 36 : cand;

		if (!strcmp(cand, want)) {
			match = cand;
			n = 1;
			break;
		}
		if (!strncmp(cand, want, len) || !strncmp(uuid, want, len)) {
			match = cand;
			n++;
		}
	}
	free(want);
	return n == 1 ? xstrdup(match) : NULL;
}

/*
 * `show` of a deployment: an exact id or a unique prefix of one. Returns
 * the exit status, or -1 when no deployment matches.
 */
static int show_deployment(const struct state *st, const struct hopts *h)
{
	struct strvec deps = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *match = NULL;
	size_t len = strlen(h->id);
	char *p;
	int n = 0, ret = 0;

	if (state_list_deployments(st, &deps, &e) < 0)
		return -1;
	for (size_t i = 0; i < deps.nr; i++)
		if (!strcmp(deps.v[i], h->id)) {
			match = deps.v[i];
			n = 1;
			break;
		} else if (!strncmp(deps.v[i], h->id, len)) {
			match = deps.v[i];
			n++;
		}
	if (n != 1) {
		strvec_release(&deps);
		return -1;
	}
	p = xasprintf("%s/deployments/%s/report.json", st->dir, match);
	if (h->json) {
		char *data;
		size_t dlen;

		if (fs_read_file(p, 64 << 20, &data, &dlen, &e) == 0) {
			fwrite(data, 1, dlen, stdout);
			free(data);
		}
	} else {
		report_deploy_show(p, stdout, &e);
	}
	if (e.code) {
		fprintf(stderr, "error: %s\n", e.msg);
		ret = e.code;
	}
	free(p);
	strvec_release(&deps);
	return ret;
}

int cmd_show(int argc, char **argv)
{
	struct hopts h = { 0 };
	struct state st = STATE_INIT;
	struct strvec ids = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	char *id = NULL, *dir = NULL, *p = NULL;
	int done, ret;

	if ((ret = parse("show", show_usage, argc, argv, &h, &done)) || done)
		return ret;
	if (!h.id)
		return cli_usage_error("show", "no build id given");
	if (state_open(&st, h.state_dir, &e) < 0 ||
	    state_list_builds(&st, &ids, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		ret = e.code;
		goto out;
	}
	id = find_build(&ids, h.id);
	if (!id && (ret = show_deployment(&st, &h)) >= 0)
		goto out;
	ret = 0;
	if (!id) {
		fprintf(stderr,
			"error: no build '%s' (or more than one) in %s\n", h.id,
			st.dir);
		ret = ERR_USAGE;
		goto out;
	}
	dir = state_build_dir(&st, id);
	p = fs_join(dir, "report.json");
	if (h.json) {
		char *data;
		size_t len;

		if (fs_read_file(p, 64 << 20, &data, &len, &e) == 0) {
			fwrite(data, 1, len, stdout);
			free(data);
		}
	} else {
		report_show(p, stdout, &e);
	}
	if (e.code) {
		fprintf(stderr, "error: %s\n", e.msg);
		ret = e.code;
	}
out:
	free(id);
	free(dir);
	free(p);
	strvec_release(&ids);
	state_release(&st);
	return ret;
}
