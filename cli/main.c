/*
 * slipway: the command table and the process's one exit point.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "err.h"
#include "store.h"
#include "suggest.h"
#include "xalloc.h"
#include "banned.h"

/*
 * Under LeakSanitizer (make check-asan): libgit2 1.5 leaks a pcre2 match
 * block per failed regex match (fixed upstream in libgit2 pull request
 * 6382); not ours to report. Unused in normal builds.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpcre2-8.so\n";
}

static const struct cli_command commands[] = {
	{ "build", cmd_build, "run one buildspec" },
	{ "deploy", cmd_deploy, "run one appspec deployment on a host" },
	{ "run", cmd_run, "build, then deploy the artifact to a group" },
	{ "plan", cmd_plan, "print the batches a deployment would use" },
	{ "validate", cmd_validate,
	  "check buildspec and appspec files, no side effects" },
	{ "pipeline", cmd_pipeline,
	  "run a pipeline file; approve, show, list" },
	{ "history", cmd_history, "list past builds" },
	{ "show", cmd_show, "show one build's report" },
	{ "report", cmd_report, "write a report as one HTML page" },
	{ "cache", cmd_cache, "list, prune or clear build caches" },
	{ "prune", cmd_prune, "reclaim old builds, deployments, artifacts" },
	{ "host", cmd_host, "list, start, stop or remove rehearsal hosts" },
	{ "agent", cmd_agent, "the on-host half of a deployment" },
	{ "serve", cmd_serve, "serve pipelines: API, webhooks, runners" },
	{ "lb", cmd_lb, "a deployment group's load balancer" },
	{ "worker", cmd_worker, "run queued actions for a server" },
};

/* The commands that read or write the store, and so take --db. */
static const char *const store_commands[] = {
	"build", "deploy", "run",   "pipeline", "history",
	"show",	 "report", "prune", "serve",
};

/*
 * --db URL (or --db=URL), anywhere before "--": taken out of argv and
 * put in the environment as SLIPWAY_DB, where the store is looked for
 * (store_locate()), so that the processes the command starts (pipeline
 * runners, builds, deployments) use the same store.
 */
static int take_db(int *argc, char **argv)
{
	struct sw_err e = SW_ERR_INIT;
	int i = 1;

	while (i < *argc && strcmp(argv[i], "--")) {
		const char *v;
		int n = 1;

		if (!strcmp(argv[i], "--db")) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "error: option '--db' requires "
						"an argument\n");
				return ERR_USAGE;
			}
			v = argv[i + 1];
			n = 2;
		} else if (!strncmp(argv[i], "--db=", 5)) {
			v = argv[i] + 5;
		} else {
			i++;
			continue;
		}
		if (store_location_check(v, &e) < 0) {
			fprintf(stderr, "error: --db: %s\n", e.msg);
			return ERR_USAGE;
		}
		if (setenv("SLIPWAY_DB", v, 1) < 0) {
			perror("error: setenv");
			return ERR_SYSTEM;
		}
		memmove(argv + i, argv + i + n,
			(size_t)(*argc - i - n + 1) * sizeof(*argv));
		*argc -= n;
	}
	return 0;
}

static void usage(FILE *out)
{
	fputs("usage: slipway <command> [options]\n"
	      "       slipway --version | --help\n\ncommands:\n",
	      out);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\nRun 'slipway <command> --help' for a command's options.\n"
	      "Those that use the store also take --db URL: sqlite:PATH\n"
	      "(default <state-dir>/slipway.db) or postgres://...\n",
	      out);
}

/* Whether argv asks for help (before any "--"). */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

static int run_command(int argc, char **argv)
{
	const char *names[ARRAY_SIZE(commands)];
	const char *s;
	bool store = false;

	for (size_t i = 0; i < ARRAY_SIZE(store_commands); i++) {
		int ret;

		if (strcmp(argv[0], store_commands[i]))
			continue;
		if ((ret = take_db(&argc, argv)))
			return ret;
		store = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		int ret;

		if (strcmp(argv[0], commands[i].name)) {
			names[i] = commands[i].name;
			continue;
		}
		ret = commands[i].fn(argc, argv);
		/* the option take_db() handles for each of them */
		if (store && ret == 0 && wants_help(argc, argv))
			fputs("\nthe store, for every command that uses it:\n"
			      "      --db URL            sqlite:PATH, PATH or "
			      "postgres://... (default\n"
			      "                          $SLIPWAY_DB, else "
			      "<state-dir>/slipway.db)\n",
			      stdout);
		return ret;
	}
	s = suggest_closest(argv[0], strlen(argv[0]), names, ARRAY_SIZE(names));
	if (s) {
		fprintf(stderr,
			"error: unknown command '%s' (did you mean '%s'?)\n",
			argv[0], s);
		fputs("see 'slipway --help'\n", stderr);
	} else {
		fprintf(stderr, "error: unknown command '%s'\n", argv[0]);
		usage(stderr);
	}
	return ERR_USAGE;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/');

	/* Multi-call: builds find slipway on their PATH under this name. */
	if (!strcmp(self ? self + 1 : argv[0], "codebuild-hash-files"))
		return cmd_hash_files(argc, argv);
	if (!strcmp(self ? self + 1 : argv[0], "codebuild-tests-run"))
		return batch_tests_run_main(argc, argv);
	if (!strcmp(self ? self + 1 : argv[0], "codebuild-glob-search"))
		return cmd_glob_search(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return ERR_USAGE;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("slipway %s\n", SW_VERSION);
		return 0;
	}
	/* slipway help CMD: that command's --help */
	if (!strcmp(argv[1], "help") && argc > 2) {
		char *args[] = { argv[2], (char *)"--help", NULL };

		return run_command(2, args);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	return run_command(argc - 1, argv + 1);
}
