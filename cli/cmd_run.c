/*
 * slipway run [SOURCE] --group FILE: the whole pipeline — build, then
 * deploy the primary artifact to a group's hosts — with one report.
 *
 * The build runs as `slipway build` would; a failed build deploys
 * nothing and its status is the exit status. The primary artifact (a zip,
 * a tar.gz, or a plain tree with --packaging none) is the bundle and must
 * hold an appspec.yml at its root (or under one wrapper directory): if it
 * does not, the run fails with exit 3 naming what the artifact holds.
 * The deployment runs as `slipway deploy BUNDLE --group FILE`, rollback
 * included. <state>/runs/<run-id>/report.json holds
 * {"runId", "status", "build": <build report>, "deployments": [<the
 * deployment's report>, <its rollback's>]}.
 *
 * The deployment's locks (deploy.h) are taken before the build: a run
 * whose group or a host of it is being deployed is refused (exit 1)
 * before it builds anything, and no other deployment can start on them
 * between the build and the deployment.
 *
 * <state>/runs/<run-id>/run.lock is held locked while the run runs, and
 * the build's log from the build's end until the deployment ends:
 * `slipway prune` leaves both, and the artifact being deployed.
 */
#include <archive.h>
#include <dirent.h>
#include <fcntl.h>
#include <archive_entry.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "agent.h"
#include "build.h"
#include "cli.h"
#include "deploy.h"
#include "probe.h"
#include "envfile.h"
#include "fs.h"
#include "group.h"
#include "html.h"
#include "proc.h"
#include "state.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

static const char run_usage[] =
	"usage: slipway run [SOURCE] --group FILE [options]\n"
	"\n"
	"Build SOURCE as 'slipway build' does, then deploy the primary "
	"artifact to\n"
	"the hosts of a deployment group as 'slipway deploy --group' does. A "
	"failed\n"
	"build deploys nothing. The artifact must hold appspec.yml at its "
	"root.\n"
	"\n"
	"      --group FILE          the deployment group file (required)\n"
	"  -b, --buildspec FILE      buildspec, relative to the source root\n"
	"      --ref REF             branch, tag or commit of a git source\n"
	"      --worktree            build a git work tree as it is\n"
	"      --secondary-source ID=PATH|URL[@REF]\n"
	"                            another source, at "
	"$CODEBUILD_SRC_DIR_ID\n"
	"                            (repeatable)\n"
	"  -e, --env NAME=VALUE      set a build variable (repeatable)\n"
	"      --env-file FILE       VAR=VAL lines for the build\n"
	"      --secrets-file FILE   values for parameter-store and "
	"secrets-manager\n"
	"  -o, --artifacts DIR       write the artifacts to DIR too\n"
	"      --packaging zip|tar.gz|none\n"
	"                            how the primary artifact is packaged "
	"(zip)\n"
	"      --no-cache            neither restore nor save build caches\n"
	"      --strict              an unknown buildspec key is an error; "
	"also\n"
	"                            warn about what CodeBuild runs "
	"silently\n"
	"      --timeout DURATION    the build's timeout (90s, 10m, 2h)\n"
	"      --config NAME         deployment config (default: the "
	"group's)\n"
	"      --file-exists-behavior DISALLOW|OVERWRITE|RETAIN\n"
	"      --ignore-application-stop-failures\n"
	"      --no-rollback         no automatic rollback\n"
	"      --probe URL[,RATE]    count the requests through the load "
	"balancer\n"
	"                            that fail while the deployment runs\n"
	"      --max-bundle-size SIZE\n"
	"                            refuse a bundle that unpacks to more "
	"(default\n"
	"                            10G; 512M, 1.5G, bytes)\n"
	"      --max-bundle-ratio N  refuse an archive that unpacks to more "
	"than N\n"
	"                            times its size (default 1000)\n"
	"      --isolation MODE      dir (default), sandbox or auto: for the "
	"build\n"
	"                            and the rehearsal hosts (see build and "
	"deploy)\n"
	"      --host-network private|host\n"
	"                            private: sandboxed hosts started now get "
	"their\n"
	"                            own network and address\n"
	"      --report FILE         write the combined JSON report to FILE "
	"too\n"
	"      --state-dir DIR       state directory (default .slipway or\n"
	"                            $SLIPWAY_STATE_DIR)\n"
	"  -q, --quiet               no build or hook output on the terminal\n"
	"      --break on-failure|always|PHASE[:N]\n"
	"                            pause the build in a shell (see build)\n"
	"      --output pretty|codebuild\n"
	"                            the build's view on the terminal (see "
	"build)\n"
	"  -v, --verbose             also say when each lifecycle event "
	"starts\n"
	"  -h, --help                this help\n"
	"\n"
	"Examples:\n"
	"  slipway run examples/webapp --group examples/webapp/fleet.yml\n"
	"  slipway run examples/webapp --group examples/webapp/fleet.yml \\\n"
	"          --isolation sandbox --host-network private\n"
	"\n"
	"A group or host being deployed refuses the run before it builds\n"
	"(exit 1, naming the deployment in progress).\n"
	"\n"
	"Exit status: the build's when it fails (1, 3, 4, ...); else 0 the\n"
	"deployment succeeded, 1 it failed or was stopped, 3 the artifact is "
	"no\n"
	"valid bundle; 2 usage error, 111 system error.\n";

enum {
	OPT_GROUP = 256,
	OPT_REF,
	OPT_WORKTREE,
	OPT_ENV_FILE,
	OPT_SECRETS_FILE,
	OPT_PACKAGING,
	OPT_NO_CACHE,
	OPT_STRICT,
	OPT_TIMEOUT,
	OPT_CONFIG,
	OPT_FEB,
	OPT_IGNORE_STOP,
	OPT_NO_ROLLBACK,
	OPT_PROBE,
	OPT_REPORT,
	OPT_STATE_DIR,
	OPT_ISOLATION,
	OPT_HOST_NETWORK,
	OPT_MAX_BUNDLE_SIZE,
	OPT_MAX_BUNDLE_RATIO,
	OPT_SECONDARY_SOURCE,
	OPT_BREAK,
	OPT_OUTPUT
};

static const struct option run_options[] = {
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "buildspec", required_argument, NULL, 'b' },
	{ "ref", required_argument, NULL, OPT_REF },
	{ "worktree", no_argument, NULL, OPT_WORKTREE },
	{ "secondary-source", required_argument, NULL, OPT_SECONDARY_SOURCE },
	{ "env", required_argument, NULL, 'e' },
	{ "env-file", required_argument, NULL, OPT_ENV_FILE },
	{ "secrets-file", required_argument, NULL, OPT_SECRETS_FILE },
	{ "artifacts", required_argument, NULL, 'o' },
	{ "packaging", required_argument, NULL, OPT_PACKAGING },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "file-exists-behavior", required_argument, NULL, OPT_FEB },
	{ "ignore-application-stop-failures", no_argument, NULL,
	  OPT_IGNORE_STOP },
	{ "no-rollback", no_argument, NULL, OPT_NO_ROLLBACK },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "max-bundle-size", required_argument, NULL, OPT_MAX_BUNDLE_SIZE },
	{ "max-bundle-ratio", required_argument, NULL, OPT_MAX_BUNDLE_RATIO },
	{ "isolation", required_argument, NULL, OPT_ISOLATION },
	{ "host-network", required_argument, NULL, OPT_HOST_NETWORK },
	{ "report", required_argument, NULL, OPT_REPORT },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "break", required_argument, NULL, OPT_BREAK },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static json_object *load_json(const char *path)
{
	struct sw_err e = SW_ERR_INIT;
	char *data = NULL;
	size_t len;
	json_object *o;

	if (fs_read_file(path, 64 << 20, &data, &len, &e) < 0)
		return NULL;
	o = json_tokener_parse(data);
	free(data);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static const char *jget(json_object *o, const char *k)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, k, &v) || !v)
		return NULL;
	return json_object_get_string(v);
}

/*
 * What an artifact holds at its top, for the message when it has no
 * appspec: "index.html, app/, scripts/ (and 12 more)".
 */
static bool appspec_name(const char *n, size_t len)
{
	return (len == 11 && !strncmp(n, "appspec.yml", 11)) ||
	       (len == 12 && !strncmp(n, "appspec.yaml", 12));
}

/* Also says whether an appspec is at the top or one directory down
 * (where the agent's wrapper hoisting finds it). */
static bool describe_top(const char *path, struct buf *out)
{
	struct strvec names = STRVEC_INIT;
	size_t more = 0;
	bool found = false;

	if (fs_is_dir(path)) {
		DIR *d = opendir(path);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			if (names.nr < 8)
				strvec_pushf(&names, "%s%s", de->d_name,
					     de->d_type == DT_DIR ? "/" : "");
			else
				more++;
		}
		if (d)
			closedir(d);
	} else {
		struct archive *a = archive_read_new();
		struct archive_entry *ae;

		archive_read_support_filter_all(a);
		archive_read_support_format_all(a);
		if (archive_read_open_filename(a, path, 65536) == ARCHIVE_OK)
			while (archive_read_next_header(a, &ae) == ARCHIVE_OK) {
				const char *n = archive_entry_pathname(ae);
				size_t len;
				char *top;

				if (!n)
					continue;
				while (!strncmp(n, "./", 2))
					n += 2;
				len = strcspn(n, "/");
				if (!len)
					continue;
				if (appspec_name(n, strlen(n)) ||
				    (n[len] && !strchr(n + len + 1, '/') &&
				     appspec_name(n + len + 1,
						  strlen(n + len + 1))))
					found = true;
				top = xasprintf("%.*s%s", (int)len, n,
						n[len] ? "/" : "");
				if (strvec_find(&names, top) >= 0)
					free(top);
				else if (names.nr < 8)
					strvec_push_nodup(&names, top);
				else {
					more++;
					free(top);
				}
				archive_read_data_skip(a);
			}
		archive_read_free(a);
	}
	if (!names.nr)
		buf_addstr(out, "nothing");
	for (size_t i = 0; i < names.nr; i++)
		buf_addf(out, "%s%s", i ? ", " : "", names.v[i]);
	if (more)
		buf_addf(out, " (and %zu more)", more);
	strvec_release(&names);
	return found;
}

struct run_ctx {
	struct state st;
	char *id; /* r-<uuid> */
	char *dir; /* <state>/runs/<id> */
	char *build_report; /* <dir>/build.json */
	char *deploy_report; /* <dir>/deployment.json */
	const char *user_report;
};

static int write_combined(struct run_ctx *c, const char *status,
			  const char *why, struct sw_err *e)
{
	json_object *o = json_object_new_object(), *deps, *b, *d;
	char *path = fs_join(c->dir, "report.json");
	const char *text;
	int ret;

	json_object_object_add(o, "runId", json_object_new_string(c->id));
	json_object_object_add(o, "status", json_object_new_string(status));
	if (why)
		json_object_object_add(o, "message",
				       json_object_new_string(why));
	b = load_json(c->build_report);
	json_object_object_add(o, "build", b);
	deps = json_object_new_array();
	d = load_json(c->deploy_report);
	if (d) {
		json_object *rb, *v;
		const char *rid;

		json_object_array_add(deps, d);
		if (json_object_object_get_ex(d, "rollbackInfo", &rb) && rb &&
		    json_object_object_get_ex(rb, "rollbackDeploymentId", &v) &&
		    (rid = json_object_get_string(v))) {
			char *rp = xasprintf("%s/deployments/%s/report.json",
					     c->st.dir, rid);
			json_object *r = load_json(rp);

			if (r)
				json_object_array_add(deps, r);
			free(rp);
		}
	}
	json_object_object_add(o, "deployments", deps);
	text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = fs_write_atomic(path, text, strlen(text), 0644, e);
	if (!ret)
		html_beside(path);
	if (!ret && c->user_report)
		ret = fs_write_atomic(c->user_report, text, strlen(text), 0644,
				      e);
	if (!ret)
		fprintf(stderr, "slipway: run %s %s%s%s; report: %s\n", c->id,
			status, why ? ": " : "", why ? why : "", path);
	json_object_put(o);
	free(path);
	return ret;
}

static int run_pipeline(struct build_opts *bo, struct deploy_opts *dop,
			const char *report)
{
	struct run_ctx c = { .st = STATE_INIT, .user_report = report };
	struct sw_err e = SW_ERR_INIT;
	json_object *b = NULL;
	const char *bstatus, *artifact = NULL;
	struct buf why = BUF_INIT;
	int status = ERR_SYSTEM, bst;
	char *uuid = NULL, *did = NULL, *note = NULL;
	struct deploy_locks *locks = NULL;
	int build_fd = -1, run_fd = -1;

	if (state_open(&c.st, bo->state_dir, &e) < 0)
		goto fail;
	uuid = state_uuid();
	c.id = xasprintf("r-%s", uuid);
	did = agent_new_deployment_id();
	note = xasprintf("run %s", c.id);
	dop->deployment_id = did;
	status = deploy_lock(dop, did, note, &locks);
	if (status)
		goto out;
	dop->locks = locks;
	status = ERR_SYSTEM;
	c.dir = xasprintf("%s/runs/%s", c.st.dir, c.id);
	if (fs_mkdir_p(c.dir, 0755, &e) < 0)
		goto fail;
	{
		char *lp = fs_join(c.dir, "run.lock");

		/* held while the run runs: `slipway prune` leaves it */
		run_fd = fs_create_locked(lp, 0644, &e);
		free(lp);
		if (run_fd < 0)
			goto fail;
	}
	c.build_report = fs_join(c.dir, "build.json");
	c.deploy_report = fs_join(c.dir, "deployment.json");
	bo->report = c.build_report;
	fprintf(stderr, "slipway: run %s: build %s, then deploy to %s\n", c.id,
		bo->source, dop->group_file);
	build_run(bo, &bst);
	b = load_json(c.build_report);
	bstatus = jget(b, "buildStatus");
	if (bst != 0 || !bstatus || strcmp(bstatus, "SUCCEEDED")) {
		buf_addf(&why, "the build %s; nothing was deployed",
			 bstatus ? bstatus : "did not finish");
		status = bst ? bst : ERR_FAILED;
		if (write_combined(&c, "Failed", why.ptr, &e) < 0)
			goto fail;
		goto out;
	}
	{
		json_object *arts, *logs;
		const char *log = NULL;

		if (json_object_object_get_ex(b, "artifacts", &arts) && arts)
			artifact = jget(arts, "location");
		/* The build's log locked (shared) until the deployment ends:
		 * `slipway prune` takes it for a running build and leaves its
		 * artifact alone. */
		if (json_object_object_get_ex(b, "logs", &logs) && logs)
			log = jget(logs, "location");
		if (log) {
			build_fd = open(log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
						     O_NOCTTY);
			if (build_fd >= 0 && flock(build_fd, LOCK_SH) < 0) {
				close(build_fd);
				build_fd = -1;
			}
		}
	}
	if (!artifact || !*artifact) {
		buf_addstr(&why, "the build has no primary artifact to deploy "
				 "(the buildspec's artifacts section must hold "
				 "the appspec.yml and the scripts)");
		status = ERR_SPEC;
		if (write_combined(&c, "Failed", why.ptr, &e) < 0)
			goto fail;
		goto out;
	}
	{
		struct buf held = BUF_INIT;

		if (!describe_top(artifact, &held)) {
			buf_addf(&why,
				 "the primary artifact %s holds no "
				 "appspec.yml at its root: it holds %s",
				 artifact, held.ptr);
			buf_release(&held);
			status = ERR_SPEC;
			if (write_combined(&c, "Failed", why.ptr, &e) < 0)
				goto fail;
			goto out;
		}
		buf_release(&held);
	}
	dop->bundle = artifact;
	dop->report = c.deploy_report;
	deploy_run(dop, &status);
	{
		json_object *d = load_json(c.deploy_report);
		const char *ds = jget(d, "status");

		if (!d) {
			buf_addstr(&why, "the deployment did not start");
		} else if (status == ERR_SPEC) {
			buf_addf(&why,
				 "the artifact %s is no valid bundle: it "
				 "holds ",
				 artifact);
			describe_top(artifact, &why);
		}
		if (write_combined(&c, ds ? ds : "Failed",
				   why.len ? why.ptr : NULL, &e) < 0) {
			json_object_put(d);
			goto fail;
		}
		json_object_put(d);
	}
	goto out;
fail:
	fprintf(stderr, "error: %s\n", e.msg);
	status = e.code ? e.code : ERR_SYSTEM;
out:
	if (build_fd >= 0)
		close(build_fd);
	if (run_fd >= 0) {
		char *lp = fs_join(c.dir, "run.lock");

		/* ended: its report says so (killed, the lock stays free) */
		unlink(lp);
		free(lp);
		close(run_fd);
	}
	deploy_locks_free(locks);
	dop->locks = NULL;
	dop->deployment_id = NULL;
	json_object_put(b);
	buf_release(&why);
	free(uuid);
	free(did);
	free(note);
	free(c.id);
	free(c.dir);
	free(c.build_report);
	free(c.deploy_report);
	state_release(&c.st);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct build_opts bo = BUILD_OPTS_INIT;
	struct deploy_opts dop = DEPLOY_OPTS_INIT;
	const char *report = NULL;
	int c, status = ERR_USAGE;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:e:o:qvh", run_options, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_GROUP:
			dop.group_file = optarg;
			break;
		case 'b':
			bo.buildspec = optarg;
			break;
		case OPT_REF:
			bo.ref = optarg;
			break;
		case OPT_WORKTREE:
			bo.worktree = true;
			break;
		case OPT_SECONDARY_SOURCE: {
			struct sw_err e = SW_ERR_INIT;

			if (layout_add_secondary(
				    &bo.secondary, &bo.nr_secondary,
				    &bo.alloc_secondary, optarg, &e) < 0) {
				status = cli_usage_error("run", "%s", e.msg);
				goto out;
			}
			break;
		}
		case 'e': {
			struct sw_err e = SW_ERR_INIT;
			char *n, *v;

			if (env_parse_assignment(optarg, &n, &v, &e) < 0) {
				status = cli_usage_error("run", "%s", e.msg);
				goto out;
			}
			free(n);
			free(v);
			strvec_push(&bo.env, optarg);
			break;
		}
		case OPT_ENV_FILE:
			bo.env_file = optarg;
			break;
		case OPT_SECRETS_FILE:
			bo.secrets_file = optarg;
			break;
		case 'o':
			bo.artifacts_dir = optarg;
			break;
		case OPT_PACKAGING:
			if (artifact_packaging_parse(optarg, &bo.packaging) <
				    0 ||
			    !strcmp(optarg, "tar.zst")) {
				status = cli_usage_error(
					"run",
					"--packaging must be zip, tar.gz or "
					"none (a bundle the agent reads), not "
					"'%s'",
					optarg);
				goto out;
			}
			break;
		case OPT_NO_CACHE:
			bo.no_cache = true;
			break;
		case OPT_STRICT:
			bo.strict = dop.strict = true;
			break;
		case OPT_TIMEOUT:
			if (cli_parse_duration(optarg, &bo.timeout_ms) < 0) {
				status = cli_usage_error(
					"run",
					"--timeout: '%s' is not a duration "
					"(90s, 10m, 2h, or minutes)",
					optarg);
				goto out;
			}
			break;
		case OPT_CONFIG:
			dop.config = optarg;
			break;
		case OPT_FEB:
			if ((status = cli_feb_option("run", optarg, &dop.feb)))
				goto out;
			status = ERR_USAGE;
			break;
		case OPT_IGNORE_STOP:
			dop.ignore_application_stop_failures = true;
			break;
		case OPT_NO_ROLLBACK:
			dop.no_rollback = true;
			break;
		case OPT_PROBE: {
			struct probe_opts po;
			struct sw_err pe = SW_ERR_INIT;

			if (probe_parse(optarg, &po, &pe) < 0) {
				status = cli_usage_error("run", "%s", pe.msg);
				goto out;
			}
			probe_opts_release(&po);
			dop.probe = optarg;
			break;
		}
		case OPT_MAX_BUNDLE_SIZE:
			if (cli_bundle_size_option("run", optarg,
						   &dop.max_bundle_bytes)) {
				status = ERR_USAGE;
				goto out;
			}
			break;
		case OPT_MAX_BUNDLE_RATIO:
			if (cli_bundle_ratio_option("run", optarg,
						    &dop.max_bundle_ratio)) {
				status = ERR_USAGE;
				goto out;
			}
			break;
		case OPT_ISOLATION: {
			int iso;

			if (cli_isolation_option("run", optarg, &iso)) {
				status = ERR_USAGE;
				goto out;
			}
			dop.isolation = (enum deploy_isolation)iso;
			bo.isolation = (enum build_isolation)iso;
			break;
		}
		case OPT_HOST_NETWORK:
			if (cli_host_network_option("run", optarg,
						    &dop.host_network)) {
				status = ERR_USAGE;
				goto out;
			}
			break;
		case OPT_REPORT:
			report = optarg;
			break;
		case OPT_STATE_DIR:
			bo.state_dir = dop.state_dir = optarg;
			break;
		case OPT_OUTPUT: {
			int v = 0;

			if (cli_output_option("run", optarg, &v)) {
				status = ERR_USAGE;
				goto out;
			}
			bo.output = (enum build_output)v;
			break;
		}
		case OPT_BREAK:
			if (cli_break_option("run", optarg, &bo.brk)) {
				status = ERR_USAGE;
				goto out;
			}
			break;
		case 'q':
			bo.quiet = dop.quiet = true;
			break;
		case 'v':
			dop.verbose = true;
			break;
		case 'h':
			fputs(run_usage, stdout);
			status = 0;
			goto out;
		default:
			status = cli_bad_option("run", argv[optind - 1],
						run_options);
			goto out;
		}
	}
	if (bo.worktree && bo.ref) {
		status = cli_usage_error("run",
					 "--ref and --worktree cannot go "
					 "together: the work tree is built as "
					 "it is");
		goto out;
	}
	if (argc - optind > 1) {
		status = cli_usage_error("run", "too many arguments: '%s'",
					 argv[optind + 1]);
		goto out;
	}
	if (!dop.group_file) {
		status = cli_usage_error("run", "--group FILE is required");
		goto out;
	}
	if (cli_break_terminal("run", &bo.brk)) {
		status = ERR_USAGE;
		goto out;
	}
	if (dop.host_network && dop.isolation == DEPLOY_ISOLATION_DIR) {
		status = cli_usage_error("run",
					 "--host-network private is for "
					 "sandboxed hosts: add --isolation "
					 "sandbox");
		goto out;
	}
	if (access(dop.group_file, R_OK) < 0) {
		status = cli_usage_error("run", "--group: cannot read '%s'",
					 dop.group_file);
		goto out;
	}
	{
		/* A group file that cannot work is found before the build. */
		struct group g = GROUP_INIT;
		struct sw_err e = SW_ERR_INIT;

		if (group_load(dop.group_file, &g, &e) < 0) {
			fprintf(stderr, "error: %s\n", e.msg);
			status = e.code;
			goto out;
		}
		group_release(&g);
	}
	bo.source = optind < argc ? argv[optind] : ".";
	status = run_pipeline(&bo, &dop, report);
out:
	strvec_release(&bo.env);
	layout_secondaries_free(bo.secondary, bo.nr_secondary);
	return status;
}
