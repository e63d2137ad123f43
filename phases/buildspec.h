/*
 * buildspec: the model of a CodeBuild buildspec (versions 0.1 and 0.2)
 * and its parser (reference codebuild.md section 1).
 *
 *   struct buildspec bs = BUILDSPEC_INIT;
 *   struct sw_err e = SW_ERR_INIT;
 *   if (buildspec_load(path, &bs, &e) < 0)
 *           -- e.code == ERR_SPEC, e.msg = "buildspec.yml:4:3: ..."
 *   for (size_t i = 0; i < bs.warnings.nr; i++)
 *           warn(bs.warnings.v[i]);   -- "file:line:col: unknown key 'x'"
 *   if (strict && bs.unknown_keys.nr)  -- also in warnings: errors now
 *           fail(bs.unknown_keys.v[0]); -- "... (did you mean 'build'?)"
 *   if (strict)                       -- e.g. "file:1:1: no 'phases': ..."
 *           for (size_t i = 0; i < bs.strict_warnings.nr; i++)
 *                   warn(bs.strict_warnings.v[i]);
 *   ...
 *   buildspec_release(&bs);
 *
 * Every string in the model is owned by the model. Scalars are kept as
 * written (YAML 1.1: unquoted 9 stays "9", true stays "true", yes stays
 * "yes" in variables); booleans of the schema (discard-paths, ...)
 * accept yes/no/true/false/on/off. A null `commands` is an empty list.
 * Unknown keys are warnings, never errors. Errors: ERR_SPEC with
 * "file:line:col: message" (1-based line and column).
 */
#ifndef SW_BUILDSPEC_H
#define SW_BUILDSPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "strvec.h"

enum bs_phase_id {
	BS_INSTALL,
	BS_PRE_BUILD,
	BS_BUILD,
	BS_POST_BUILD,
	BS_NPHASES
};

/* "install", "pre_build", ... and "INSTALL", "PRE_BUILD", ... */
const char *bs_phase_key(enum bs_phase_id id);
const char *bs_phase_type(enum bs_phase_id id);

enum bs_on_failure {
	BS_ONFAIL_DEFAULT = 0, /* not given: the default transitions */
	BS_ONFAIL_ABORT,
	BS_ONFAIL_CONTINUE,
	BS_ONFAIL_RETRY
};

/* A name -> value pair, with where the name was written. */
struct bs_kv {
	char *name;
	char *value;
	int line, col;
};

struct bs_kvlist {
	struct bs_kv *v;
	size_t nr, alloc;
};

struct bs_phase {
	bool present;
	int line, col; /* of the phase key */
	char *run_as; /* NULL: the global run-as (or none) */
	enum bs_on_failure on_failure;
	int retry_count; /* RETRY: 3 unless RETRY-<count> (0..100) */
	char *retry_regex; /* RETRY-..-<regex>; NULL means ".*" */
	struct bs_kvlist runtime_versions; /* install only */
	struct strvec commands;
	struct strvec finally;
	int *command_lines, *finally_lines; /* each command's line */
};

struct bs_artifact {
	char *identifier; /* NULL for the primary artifact */
	struct strvec files;
	char *name;
	char *base_directory;
	bool discard_paths;
	struct strvec exclude_paths;
	bool enable_symlinks;
	char *s3_prefix;
	int line, col;
};

struct bs_report_group {
	char *name;
	struct strvec files;
	char *base_directory;
	bool discard_paths;
	char *file_format; /* upper-cased; "JUNITXML" when not given */
	int line, col;
};

struct bs_cache {
	bool present;
	char *key;
	struct strvec fallback_keys; /* at most 5 */
	char *action; /* NULL (both), "restore" or "save" */
	struct strvec paths;
};

/* batch: build-list / build-graph / build-matrix / build-fanout. */
enum bs_batch_type {
	BS_BATCH_NONE = 0,
	BS_BATCH_LIST,
	BS_BATCH_GRAPH,
	BS_BATCH_MATRIX,
	BS_BATCH_FANOUT
};

struct bs_batch_env {
	char *compute_type;
	char *fleet;
	char *image;
	char *type;
	bool privileged_mode;
	struct bs_kvlist variables;
};

struct bs_batch_task {
	char *identifier;
	char *buildspec; /* NULL: this file */
	bool debug_session;
	bool ignore_failure;
	struct strvec depend_on; /* build-graph only */
	struct bs_batch_env env;
	int line, col;
};

struct bs_matrix_var {
	char *name;
	struct strvec values;
};

struct bs_batch {
	enum bs_batch_type type;
	bool fast_fail;
	/* build-list and build-graph */
	struct bs_batch_task *tasks;
	size_t nr_tasks, alloc_tasks;
	/* build-matrix */
	bool matrix_ignore_failure;
	struct bs_batch_env matrix_static;
	struct strvec matrix_buildspecs;
	struct strvec matrix_compute_types;
	struct strvec matrix_images;
	struct bs_matrix_var *matrix_vars;
	size_t nr_matrix_vars, alloc_matrix_vars;
	/* build-fanout */
	int parallelism;
	bool fanout_ignore_failure;
};

/*
 * At most this many builds in one batch: a build-matrix expanding to more,
 * or a build-fanout with a larger parallelism, is refused by the parser
 * (file:line:col), so that validate refuses what build would.
 */
#define BS_BATCH_MAX_BUILDS 1000

/* How many builds a build-matrix expands to: the product of its
 * buildspecs, images, compute types and variables' values (empty ones
 * count 1), saturating at SIZE_MAX. */
size_t buildspec_matrix_count(const struct bs_batch *b);

struct buildspec {
	char *file; /* as given to buildspec_load */
	char *version; /* "0.1" or "0.2" */
	int minor; /* 1 or 2 */
	char *run_as;
	char *shell; /* env/shell: NULL, "bash", "/bin/sh", "sh", ... */
	struct bs_kvlist variables; /* env/variables (0.1: plaintext) */
	struct bs_kvlist parameter_store;
	struct bs_kvlist secrets_manager;
	struct strvec exported_variables;
	bool git_credential_helper;
	struct bs_phase phases[BS_NPHASES];
	bool has_artifacts;
	struct bs_artifact artifacts; /* primary */
	struct bs_artifact *secondary;
	size_t nr_secondary, alloc_secondary;
	struct bs_report_group *reports;
	size_t nr_reports, alloc_reports;
	struct bs_cache cache;
	struct bs_batch batch;
	struct strvec warnings; /* "file:line:col: message" */
	/* Same form: what CodeBuild runs without a word but is likely a
	 * slip (no phases at all); shown only under --strict. */
	struct strvec strict_warnings;
	/* The warnings about unknown keys and phases, again (each names the
	 * closest known key when one is close): --strict makes them errors. */
	struct strvec unknown_keys;
};

#define BUILDSPEC_INIT                                                         \
	{                                                                      \
		0                                                              \
	}

/* Parse a file. On failure *bs is left released. */
int buildspec_load(const char *path, struct buildspec *bs, struct sw_err *e);
/* Parse from memory; `name` is used in messages. */
int buildspec_parse(const char *name, const char *data, size_t len,
		    struct buildspec *bs, struct sw_err *e);
void buildspec_release(struct buildspec *bs);

#endif
