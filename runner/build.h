/*
 * build: one build from source to report — DOWNLOAD_SOURCE, the build
 * phases, UPLOAD_ARTIFACTS, FINALIZING — and the result it leaves.
 *
 *   struct build_opts o = BUILD_OPTS_INIT;
 *   o.source = "."; o.artifacts_dir = "out";
 *   int status;
 *   build_run(&o, &status);   -- the process exit status (DESIGN.md)
 *
 * build_run() never returns -1 for a build that fails: the failure is in
 * the report and the status. It prints one summary line on stderr that
 * says how the build ended and why.
 */
#ifndef SW_BUILD_H
#define SW_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "artifacts.h"
#include "layout.h"
#include "phase.h"
#include "reports.h"
#include "strvec.h"

enum build_output {
	BUILD_OUTPUT_AUTO, /* the view on a terminal, else CodeBuild's lines */
	BUILD_OUTPUT_PRETTY, /* the terminal view (log.h) */
	BUILD_OUTPUT_CODEBUILD /* CodeBuild's agent lines */
};

enum build_isolation {
	BUILD_ISOLATION_DIR, /* a directory of its own, nothing more */
	BUILD_ISOLATION_SANDBOX, /* namespaces (sandbox.h), or exit 111 */
	BUILD_ISOLATION_AUTO /* sandbox where namespaces work, else dir */
};

struct build_opts {
	const char *source; /* NULL: "." */
	const char *ref;
	/* copy a local git work tree as it is (build's default; --committed
	 * clears it and sets committed); a clone of the commit otherwise */
	bool worktree, committed;
	const char *buildspec; /* relative to the source root */
	struct strvec env; /* -e NAME=VALUE, in order */
	/* --secret-env NAME=SECRET-ID[:JSON-KEY...] and --parameter-env
	 * NAME=PARAMETER: variables resolved as the buildspec's
	 * secrets-manager and parameter-store ones (CodeBuild's
	 * SECRETS_MANAGER and PARAMETER_STORE overrides), masked alike */
	struct strvec secret_env, parameter_env;
	const char *env_file;
	const char *secrets_file;
	const char *secrets_command;
	const char *artifacts_dir;
	enum artifact_packaging packaging; /* zip unless --packaging */
	const char *report;
	const char *shell; /* --shell */
	int64_t timeout_ms; /* 0: CodeBuild's default, 60 minutes */
	bool no_cache;
	const char *state_dir;
	bool quiet;
	bool inherit_env;
	bool strict; /* --strict: also log the buildspec's strict_warnings */
	/* a batch's task: CODEBUILD_BATCH_BUILD_IDENTIFIER */
	const char *batch_identifier;
	enum build_isolation isolation; /* --isolation; dir by default */
	bool network_none; /* --network none (sandbox only) */
	long pids; /* --pids; 0: no limit (sandbox only) */
	long long memory; /* --memory in bytes; 0: no limit (sandbox only) */
	long cpu_time; /* --cpu-time seconds per process; 0: no limit */
	enum build_output output; /* --output; build.log is always codebuild */
	struct break_spec brk; /* --break; needs a terminal (pause.h) */
	/* --from / --phase: run a kept build's source again from a phase
	 * (resume.h); source is then unused */
	bool resume;
	int from_phase; /* an enum bs_phase_id */
	bool one_phase; /* --phase: that phase alone, no artifacts */
	const char *from_build; /* its id; NULL: the newest build */
	/* --secondary-source, owned by the caller (layout_add_secondary) */
	struct layout_secondary *secondary;
	size_t nr_secondary, alloc_secondary;
	/*
	 * Wall-clock ms when the user's wait began, when something before
	 * build_run() already worked on the build (reading a batch section
	 * from the source): the build starts then, with a PROVISIONING
	 * phase up to DOWNLOAD_SOURCE. 0: the build starts in build_run().
	 */
	int64_t submitted_ms;
};

#define BUILD_OPTS_INIT                                                        \
	{                                                                      \
		.env = STRVEC_INIT, .secret_env = STRVEC_INIT,                 \
		.parameter_env = STRVEC_INIT                                   \
	}

struct build_artifact {
	char *identifier; /* NULL for the primary */
	char *location;
	const char *packaging; /* "zip", "tar.gz", "tar.zst", "none" */
	char *sha256;
	char *md5;
	long long size;
	size_t files;
};

/* A secondary source as the build got it (CODEBUILD_SRC_DIR_<id>). */
struct build_source {
	char *id;
	char *dir; /* on the host */
	char *build_dir; /* as the build's commands see it */
	char *location; /* the URL or absolute path */
	char *source_version; /* git: the ref as given, else the branch */
	char *resolved_source_version; /* git: the commit */
};

/* A pause of --break, for the report. */
struct build_pause {
	char *phase;
	unsigned n; /* the command's number in its phase; 0: the end */
	char *command; /* NULL at the end */
	const char *why; /* "failed", "before", "breakpoint", "end" */
	const char *action; /* "resume", "retry", "skip", "abort" */
	int64_t start_ms, end_ms; /* wall clock */
};

struct build_result {
	char *id;
	char *arn;
	char *project;
	long number;
	char *status; /* SUCCEEDED FAILED FAULT TIMED_OUT STOPPED */
	char *current_phase;
	int64_t start_ms, end_ms;
	char *source_version;
	char *resolved_source_version;
	char *repo_url;
	char *src_dir;
	char *buildspec;
	char *initiator;
	char *build_dir;
	long timeout_minutes;
	struct phase_list phases;
	struct strvec exported; /* NAME=value */
	struct build_artifact *artifacts; /* [0] primary when present */
	size_t nr_artifacts, alloc_artifacts;
	char *reason; /* why it failed, for the summary line */
	struct report_result *reports; /* one per report group processed */
	size_t nr_reports;
	char *cache_restore; /* what the cache restore did, or NULL */
	char *cache_save;
	struct build_source *secondary; /* one per --secondary-source */
	size_t nr_secondary;
	struct build_pause *pauses; /* --break */
	size_t nr_pauses, alloc_pauses;
	char *from_build; /* --from / --phase: the kept build, or NULL */
	char *from_phase;
	bool one_phase;
};

int build_run(const struct build_opts *o, int *status);

void build_result_release(struct build_result *r);

#endif
