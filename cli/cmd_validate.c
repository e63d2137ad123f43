/*
 * slipway validate FILE...: check buildspecs, appspecs, deployment
 * group files and pipeline files without running anything.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "appspec.h"
#include "buildspec.h"
#include "cli.h"
#include "err.h"
#include "group.h"
#include "pipeline.h"
#include "proc.h"
#include "watch.h"
#include "revision.h"
#include "fs.h"
#include "strvec.h"
#include "yaml.h"
#include "banned.h"

static const char validate_usage[] =
	"usage: slipway validate [--strict] [--watch] FILE|BUNDLE...\n"
	"\n"
	"Check buildspec files: YAML syntax, the schema of versions 0.1 and\n"
	"0.2, batch sections. Prints 'FILE: ok' or 'error: FILE:LINE:COL: "
	"...'\n"
	"and warnings for unknown keys. Nothing is run or written.\n"
	"\n"
	"Appspec files (CodeDeploy, os: linux) are checked too: files,\n"
	"file_exists_behavior, permissions and hooks, with the agent's rules.\n"
	"A file is an appspec when it is named appspec.yml or appspec.yaml,\n"
	"or when its top level has 'os', or appspec keys (version 0.0, files,\n"
	"hooks, permissions, Resources) and no 'phases' or 'batch'.\n"
	"\n"
	"Deployment group files are checked too: hosts, ssh targets, custom\n"
	"deployment configs. A file is a group file when its top level has\n"
	"'hosts' or 'deployment-group'.\n"
	"\n"
	"Pipeline files (CodePipeline's declaration as get-pipeline prints\n"
	"it, JSON or YAML, with a 'slipway' section binding its names) are\n"
	"checked too: stages, actions, providers, artifacts, variables,\n"
	"triggers and bindings. A file is a pipeline file when its top level\n"
	"has 'pipeline', whatever its name.\n"
	"\n"
	"A bundle (a directory, or a zip or tar archive, as 'slipway deploy'\n"
	"takes it) is checked as a deployment checks it before any host gets\n"
	"it: unpacked safely, its appspec valid, every hook script and files\n"
	"source present in it.\n"
	"\n"
	"      --strict unknown keys are errors (exit 3), and warn about what\n"
	"               CodeBuild runs silently but is likely a slip (a\n"
	"               buildspec with no phases)\n"
	"      --watch  check again each time one of the files changes, with "
	"a\n"
	"               line per check; Ctrl-C ends\n"
	"  -h, --help   this help\n"
	"\n"
	"Examples:\n"
	"  slipway validate buildspec.yml appspec.yml fleet.yml\n"
	"  slipway validate pipeline.json\n"
	"  slipway validate out/artifacts.zip\n"
	"\n"
	"Exit status: 0 all valid, 2 usage error or unreadable file,\n"
	"3 a file is invalid (or has an unknown key, with --strict).\n";

static int count_phases(const struct buildspec *bs)
{
	int n = 0;

	for (int i = 0; i < BS_NPHASES; i++)
		n += bs->phases[i].present;
	return n;
}

static bool named_appspec(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strcmp(base, "appspec.yml") || !strcmp(base, "appspec.yaml");
}

enum file_kind { KIND_BUILDSPEC, KIND_APPSPEC, KIND_GROUP, KIND_PIPELINE };

/*
 * What a file holds, from the keys of its top level: a pipeline file has
 * 'pipeline'; a group file has 'hosts' or 'deployment-group'; an
 * appspec 'os', or appspec keys and no 'phases' or 'batch'. A file that
 * is no YAML mapping goes to the buildspec parser, whose message for it
 * is as good.
 */
static enum file_kind sniff(const char *path)
{
	static const char *const appspec_keys[] = { "files", "hooks",
						    "permissions",
						    "file_exists_behavior",
						    "Resources" };
	struct ydoc doc = YDOC_INIT;
	struct sw_err e = SW_ERR_INIT;
	/* only a look at the keys: a key written twice (an error for a
	 * buildspec, a warning for an appspec) is told by the parser */
	struct ydoc_opts yo = { .dup_keys_last = true };
	const struct ynode *root, *v;
	enum file_kind kind = KIND_BUILDSPEC;

	if (ydoc_load_file_opts(path, path, &yo, &doc, &e) < 0)
		return KIND_BUILDSPEC;
	root = doc.root;
	if (!root || root->type != YNODE_MAP)
		goto out;
	if (pipeline_sniff(root)) {
		kind = KIND_PIPELINE;
		goto out;
	}
	if (ynode_map_get(root, "hosts") ||
	    ynode_map_get(root, "deployment-group")) {
		kind = KIND_GROUP;
		goto out;
	}
	if (ynode_map_get(root, "os")) {
		kind = KIND_APPSPEC;
		goto out;
	}
	if (ynode_map_get(root, "phases") || ynode_map_get(root, "batch"))
		goto out;
	v = ynode_map_get(root, "version");
	if (v && v->type == YNODE_SCALAR && v->plain &&
	    (!strcmp(v->value, "0.0") || !strcmp(v->value, "0")))
		kind = KIND_APPSPEC;
	for (size_t i = 0; i < sizeof(appspec_keys) / sizeof(*appspec_keys);
	     i++)
		if (ynode_map_get(root, appspec_keys[i]))
			kind = KIND_APPSPEC;
out:
	ydoc_release(&doc);
	return kind;
}

/*
 * Print a file's warnings on stderr. Under --strict the unknown keys
 * among them are errors: returns 3 then, else 0.
 */
static int print_warnings(const struct strvec *w, const struct strvec *unknown,
			  bool strict)
{
	int rc = 0;

	for (size_t i = 0; i < w->nr; i++) {
		bool fatal = strict && strvec_find(unknown, w->v[i]) >= 0;

		const char *ign = fatal ? strstr(w->v[i], " ignored") : NULL;

		/* an error says nothing is ignored */
		if (ign)
			fprintf(stderr, "error: %.*s%s\n", (int)(ign - w->v[i]),
				w->v[i], ign + 8);
		else
			fprintf(stderr, "%s: %s\n", fatal ? "error" : "warning",
				w->v[i]);
		if (fatal)
			rc = ERR_SPEC;
	}
	return rc;
}

static int validate_group(const char *path, bool strict)
{
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (group_load(path, &g, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code == ERR_SPEC ? ERR_SPEC : e.code;
	}
	if (print_warnings(&g.warnings, &g.unknown_keys, strict)) {
		group_release(&g);
		return ERR_SPEC;
	}
	printf("%s: ok (group %s, %zu hosts, config %s)\n", path, g.name,
	       g.nr_hosts, g.config);
	group_release(&g);
	return 0;
}

static int validate_pipeline(const char *path, bool strict)
{
	struct pipeline pl = PIPELINE_INIT;
	struct sw_err e = SW_ERR_INIT;
	int rc;

	if (pipeline_load(path, &pl, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code == ERR_SPEC ? ERR_SPEC : e.code;
	}
	rc = print_warnings(&pl.warnings, &pl.unknown_keys, strict);
	for (size_t w = 0; w < pl.notes.nr; w++)
		fprintf(stderr, "note: %s\n", pl.notes.v[w]);
	if (rc) {
		pipeline_release(&pl);
		return rc;
	}
	printf("%s: ok (pipeline %s, %zu stages, %zu actions, %s)\n", path,
	       pl.name, pl.nr_stages, pipeline_nr_actions(&pl),
	       pl_mode_name(pl.mode));
	pipeline_release(&pl);
	return 0;
}

static int validate_appspec(const char *path, bool strict)
{
	struct appspec a = APPSPEC_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (appspec_load(path, &a, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code == ERR_SPEC ? ERR_SPEC : e.code;
	}
	if (print_warnings(&a.warnings, &a.unknown_keys, strict)) {
		appspec_release(&a);
		return ERR_SPEC;
	}
	printf("%s: ok (appspec %s, %zu hooks, %zu files)\n", path, a.version,
	       appspec_nr_hooks(&a), a.nr_files);
	appspec_release(&a);
	return 0;
}

/* --watch: after a check, one line; then wait for a file to change.
 * Returns 1 to check again. */
static int watch_again(struct watch *w, int argc, char **argv, int status)
{
	struct sw_err e = SW_ERR_INIT;
	char hms[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	printf("%s validate: %s\n", hms,
	       status ? "invalid (exit status 3 or 2)" : "all valid");
	fflush(stdout);
	if (w->fd < 0) {
		struct watch_opts wo = WATCH_OPTS_INIT;
		struct strvec files = STRVEC_INIT;
		int rc;

		for (int i = 1; i < argc; i++)
			if (argv[i][0] != '-' || !argv[i][1])
				strvec_push(&files, argv[i]);
		wo.root = ".";
		wo.files = (const char *const *)files.v;
		rc = proc_signals_init(&e) < 0 ? -1 : watch_init(w, &wo, &e);
		strvec_release(&files);
		if (rc < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			return 0;
		}
	}
	return watch_next(w, -1, NULL, 0) == 1 &&
	       watch_settle(w, 150, 2000) == 0;
}

static const char *const kind_names[] = {
	[BUNDLE_UNKNOWN] = "?",	 [BUNDLE_DIRECTORY] = "directory",
	[BUNDLE_ZIP] = "zip",	 [BUNDLE_TAR] = "tar",
	[BUNDLE_TGZ] = "tar.gz",
};

/* A bundle: a directory or an archive, checked as a deployment checks it
 * before any host gets it. */
static int validate_bundle(const char *path, bool strict)
{
	struct revision_check rc = REVISION_CHECK_INIT;
	struct sw_err e = SW_ERR_INIT;
	int rc_unknown;

	if (revision_check(path, path, NULL, NULL, &rc, &e) < 0) {
		fprintf(stderr, "error: %s\n", e.msg);
		return e.code == ERR_SPEC ? ERR_SPEC : e.code;
	}
	rc_unknown = strict && rc.spec.unknown_keys.nr;
	for (size_t w = 0; w < rc.notes.nr; w++) {
		bool fatal = strict && strvec_find(&rc.spec.unknown_keys,
						   rc.notes.v[w]) >= 0;

		fprintf(stderr, "%s: %s\n", fatal ? "error" : "warning",
			rc.notes.v[w]);
	}
	if (!rc_unknown)
		printf("%s: ok (bundle %s, appspec %s, %zu hooks, %zu "
		       "files)\n",
		       path, kind_names[rc.kind], rc.spec.version,
		       appspec_nr_hooks(&rc.spec), rc.spec.nr_files);
	revision_check_release(&rc);
	return rc_unknown ? ERR_SPEC : 0;
}

/* A directory, or a file that opens as a zip or tar archive. */
static bool is_bundle(const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	enum bundle_kind kind;

	return fs_is_dir(path) || bundle_detect(path, &kind, &e) == 0;
}

int cmd_validate(int argc, char **argv)
{
	static const char *const names[] = { "--strict", "--watch", "--help",
					     NULL };
	int status = 0, files = 0;
	bool strict = false, watching = false;
	struct watch watcher = WATCH_INIT;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(validate_usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--strict"))
			strict = true;
		else if (!strcmp(argv[i], "--watch"))
			watching = true;
		else if (argv[i][0] == '-' && argv[i][1])
			return cli_unknown_option("validate", argv[i], names);
		else
			files++;
	}
	if (!files)
		return cli_usage_error("validate", "no file given");
again:
	status = 0;
	for (int i = 1; i < argc; i++) {
		struct buildspec bs = BUILDSPEC_INIT;
		struct sw_err e = SW_ERR_INIT;
		enum file_kind kind;

		if (!strcmp(argv[i], "--strict") || !strcmp(argv[i], "--watch"))
			continue;
		if (access(argv[i], R_OK) < 0) {
			fprintf(stderr, "error: cannot read '%s'\n", argv[i]);
			if (!status)
				status = ERR_USAGE;
			continue;
		}
		if (is_bundle(argv[i])) {
			int rc = validate_bundle(argv[i], strict);

			if (rc)
				status = rc;
			continue;
		}
		kind = sniff(argv[i]);
		if (kind != KIND_PIPELINE && named_appspec(argv[i]))
			kind = KIND_APPSPEC;
		if (kind != KIND_BUILDSPEC) {
			int rc = kind == KIND_GROUP
					 ? validate_group(argv[i], strict)
				 : kind == KIND_PIPELINE
					 ? validate_pipeline(argv[i], strict)
					 : validate_appspec(argv[i], strict);

			if (rc)
				status = rc;
			continue;
		}
		if (buildspec_load(argv[i], &bs, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = e.code == ERR_SPEC ? ERR_SPEC : e.code;
			continue;
		}
		if (print_warnings(&bs.warnings, &bs.unknown_keys, strict)) {
			status = ERR_SPEC;
			buildspec_release(&bs);
			continue;
		}
		for (size_t w = 0; strict && w < bs.strict_warnings.nr; w++)
			fprintf(stderr, "warning: %s\n",
				bs.strict_warnings.v[w]);
		if (bs.batch.type != BS_BATCH_NONE)
			printf("%s: ok (buildspec %s, %d phases, "
			       "batch)\n",
			       argv[i], bs.version, count_phases(&bs));
		else
			printf("%s: ok (buildspec %s, %d phases)\n", argv[i],
			       bs.version, count_phases(&bs));
		buildspec_release(&bs);
	}
	fflush(NULL);
	if (watching && watch_again(&watcher, argc, argv, status))
		goto again;
	watch_release(&watcher);
	return status;
}
