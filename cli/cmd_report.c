/*
 * slipway report ID [--html FILE]: a build, deployment, run or pipeline
 * execution of the state directory as one HTML page (html.h, page.h).
 */
#include <dirent.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exec.h"
#include "fs.h"
#include "html.h"
#include "state.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

static const char report_usage[] =
	"usage: slipway report ID [--html FILE] [--state-dir DIR]\n"
	"\n"
	"Write one build, deployment or run as a single self-contained HTML\n"
	"page: status, phase timeline, test summaries, artifacts with sizes\n"
	"and digests, and a grid of hosts by lifecycle events with each\n"
	"failure's diagnostics. ID is a build id (<project>:<uuid>), a\n"
	"deployment id (d-XXXXXXXXX) or a run id, or a unique prefix of one.\n"
	"A deployment's page also shows its rollback (or the deployment it\n"
	"rolls back). A pipeline execution id (pe-...) gives the execution's\n"
	"stages and actions, which `pipeline` keeps up to date in its\n"
	"executions/<id>/report.html. Prints the page's path.\n"
	"\n"
	"      --html FILE       write the page to FILE (default: report.html\n"
	"                        beside the report's report.json, or in the\n"
	"                        execution's directory)\n"
	"      --state-dir DIR   state directory (default .slipway or\n"
	"                        $SLIPWAY_STATE_DIR)\n"
	"  -h, --help            this help\n"
	"\n"
	"Examples:\n"
	"  slipway report d-4F2KQ8ZLM              # the deployment's page\n"
	"  slipway report hello:3f1c --html out.html\n"
	"  xdg-open \"$(slipway report d-4F2KQ8ZLM)\"\n";

enum { OPT_STATE_DIR = 256, OPT_HTML };

static const struct option options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "html", required_argument, NULL, OPT_HTML },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* The one name of names equal to want, else starting with it (or its
 * last 36 characters, a build's uuid, starting with it); NULL when none
 * or several. */
static const char *unique(const struct strvec *names, const char *want,
			  bool uuid)
{
	const char *match = NULL;
	size_t len = strlen(want);
	int n = 0;

	for (size_t i = 0; i < names->nr; i++) {
		const char *c = names->v[i];
		size_t cl = strlen(c);

		if (!strcmp(c, want))
			return c;
		if (!strncmp(c, want, len) ||
		    (uuid && cl > 36 && !strncmp(c + cl - 36, want, len))) {
			match = c;
			n++;
		}
	}
	return n == 1 ? match : NULL;
}

/* The run ids: runs/<id>/report.json. */
static void list_runs(const struct state *st, struct strvec *ids)
{
	char *dir = fs_join(st->dir, "runs");
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s/report.json", dir, de->d_name);
		if (fs_exists(p))
			strvec_push(ids, de->d_name);
		free(p);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* The deployment a rollback rolls back, or the rollback of one, when
 * its report is in the state directory: caller frees. */
static char *related(const struct state *st, const char *path, bool *before)
{
	json_object *o = json_object_from_file(path), *rb, *v;
	char *p = NULL;

	*before = false;
	if (o && json_object_object_get_ex(o, "rollbackInfo", &rb) && rb) {
		if (json_object_object_get_ex(
			    rb, "rollbackTriggeringDeploymentId", &v) &&
		    v) {
			*before = true;
		} else if (!json_object_object_get_ex(
				   rb, "rollbackDeploymentId", &v) ||
			   !v) {
			v = NULL;
		}
		if (v && !strchr(json_object_get_string(v), '/'))
			p = xasprintf("%s/deployments/%s/report.json", st->dir,
				      json_object_get_string(v));
	}
	json_object_put(o);
	if (p && !fs_exists(p)) {
		free(p);
		p = NULL;
	}
	return p;
}

/* The report.json files for id, the page's inputs in order; the first
 * one's directory is where report.html goes. 0, or -1 for no such id. */
static int find_reports(const struct state *st, const char *id,
			struct strvec *paths, char **dir, struct sw_err *e)
{
	struct strvec names = STRVEC_INIT;
	const char *m;
	int ret = -1;

	if (state_list_builds(st, &names, e) < 0)
		goto out;
	{
		char *want = state_build_name(id);

		m = unique(&names, want, true);
		free(want);
	}
	if (m) {
		*dir = xasprintf("%s/builds/%s", st->dir, m);
		strvec_push_nodup(paths, fs_join(*dir, "report.json"));
		ret = 0;
		goto out;
	}
	strvec_clear(&names);
	if (state_list_deployments(st, &names, e) < 0)
		goto out;
	if ((m = unique(&names, id, false))) {
		char *p, *rel;
		bool before;

		*dir = xasprintf("%s/deployments/%s", st->dir, m);
		p = fs_join(*dir, "report.json");
		rel = related(st, p, &before);
		if (rel && before)
			strvec_push(paths, rel);
		strvec_push(paths, p);
		if (rel && !before)
			strvec_push(paths, rel);
		free(rel);
		free(p);
		ret = 0;
		goto out;
	}
	strvec_clear(&names);
	list_runs(st, &names);
	if ((m = unique(&names, id, false))) {
		*dir = xasprintf("%s/runs/%s", st->dir, m);
		strvec_push_nodup(paths, fs_join(*dir, "report.json"));
		ret = 0;
		goto out;
	}
	err_set(e, ERR_USAGE,
		"no build, deployment or run '%s' (or more than one) in %s", id,
		st->dir);
out:
	strvec_release(&names);
	return ret;
}

int cmd_report(int argc, char **argv)
{
	struct state st = STATE_INIT;
	struct strvec paths = STRVEC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const char *state_dir = NULL, *html = NULL, *id;
	char *dir = NULL, *out = NULL;
	int c, ret = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_STATE_DIR:
			state_dir = optarg;
			break;
		case OPT_HTML:
			html = optarg;
			break;
		case 'h':
			fputs(report_usage, stdout);
			return 0;
		default:
			return cli_bad_option("report", argv[optind - 1],
					      options);
		}
	}
	if (optind >= argc)
		return cli_usage_error("report", "no id given");
	id = argv[optind++];
	if (optind < argc)
		return cli_usage_error("report", "too many arguments");
	if (!*id)
		return cli_usage_error("report", "empty id");
	if (html && !*html)
		return cli_usage_error("report", "empty --html");
	if (!strncmp(id, "pe-", 3))
		return exec_report(state_dir, id, html);
	if (state_open(&st, state_dir, &e) < 0 ||
	    find_reports(&st, id, &paths, &dir, &e) < 0)
		goto fail;
	out = html ? xstrdup(html) : fs_join(dir, "report.html");
	if (html_report_write((const char *const *)paths.v, paths.nr, out, &e) <
	    0)
		goto fail;
	printf("%s\n", out);
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
	ret = e.code;
out:
	free(out);
	free(dir);
	strvec_release(&paths);
	state_release(&st);
	return ret;
}
