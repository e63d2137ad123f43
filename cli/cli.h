/*
 * cli: what the subcommands share — the command table's entry type,
 * option helpers and the usage errors they print.
 *
 *   static const struct cli_command commands[] = {
 *           { "build", cmd_build, "run one buildspec" }, ...
 *   };
 *
 * A cmd_*() returns the process exit status (DESIGN.md "Exit status").
 */
#ifndef SW_CLI_H
#define SW_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "appspec.h"

typedef int (*cli_fn)(int argc, char **argv);

struct cli_command {
	const char *name;
	cli_fn fn;
	const char *summary;
};

int cmd_build(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_cache(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_host(int argc, char **argv);
int cmd_prune(int argc, char **argv);
/* codebuild-hash-files GLOB...: slipway called by that name. */
int cmd_hash_files(int argc, char **argv);
/* codebuild-glob-search PATTERN...: slipway called by that name. */
int cmd_glob_search(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_lb(int argc, char **argv);
int cmd_worker(int argc, char **argv);

/*
 * "90s", "10m", "2h", "1h30m", or a bare number of minutes (as CodeBuild
 * counts). Returns 0 and *ms, or -1 for anything else (or zero).
 */
int cli_parse_duration(const char *s, int64_t *ms);

/* --file-exists-behavior: DISALLOW, OVERWRITE or RETAIN in any case.
 * 0 and *feb, or the usage error printed for cmd and 2 returned. */
int cli_feb_option(const char *cmd, const char *s, enum appspec_feb *feb);
/* --max-revisions: 1 to 1000. 0 and *n, or the usage error and 2. */
int cli_revisions_option(const char *cmd, const char *s, unsigned *n);

/* --max-bundle-size: a size as "10G", "512M", "1.5G" or bytes (powers of
 * 1024), more than 0. 0 and *n, or the usage error and 2. */
int cli_bundle_size_option(const char *cmd, const char *s, uint64_t *n);
/* --max-bundle-ratio: a whole number from 1 to 1000000000. 0 and *n, or
 * the usage error and 2. */
int cli_bundle_ratio_option(const char *cmd, const char *s, uint64_t *n);

/* --isolation for build, deploy and run: dir, sandbox or auto, as 0, 1
 * or 2 (enum build_isolation and enum deploy_isolation alike). 0 and
 * *iso, or the usage error and 2. */
int cli_isolation_option(const char *cmd, const char *s, int *iso);

struct break_spec;
/* --break: parse s into *out; 0, or a usage error (returns ERR_USAGE). */
int cli_break_option(const char *cmd, const char *s, struct break_spec *out);
/* --output pretty|codebuild into *out (an enum build_output). */
int cli_output_option(const char *cmd, const char *s, int *out);
/* --break needs a terminal: 0, or a usage error (returns ERR_USAGE). */
int cli_break_terminal(const char *cmd, const struct break_spec *b);
/* --host-network: private (true) or host (false). 0, or the usage error
 * and 2. */
int cli_host_network_option(const char *cmd, const char *s, bool *private_);

/*
 * The usage error for an option getopt_long() refused: arg is what the
 * user wrote (argv[optind - 1]), opts the command's table ({NULL}-ended).
 * "unknown option '--biuldspec' (did you mean '--buildspec'?)", or
 * "option '--ref' needs a value" when arg names an option that takes
 * one. Returns 2.
 */
struct option;
int cli_bad_option(const char *cmd, const char *arg, const struct option *opts);
/* The same for commands that read their options by hand: names is a
 * NULL-ended list of long options ("--strict"). Returns 2. */
int cli_unknown_option(const char *cmd, const char *arg,
		       const char *const *names);
/* The usage error for a subcommand of cmd that is none of subs (a
 * NULL-ended list), naming the closest when one is close. Returns 2. */
int cli_unknown_subcommand(const char *cmd, const char *sub,
			   const char *const *subs);
/* Print "error: <msg>" and a hint to --help on stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
