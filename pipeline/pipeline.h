/*
 * pipeline: a pipeline file (docs/pipeline.md), CodePipeline's own
 * declaration as `aws codepipeline get-pipeline` prints it (JSON, or the
 * same keys in YAML), with a `slipway:` section that binds its AWS names
 * to local things. Parsed into a model the execution engine walks, and
 * validated as CodePipeline validates a declaration, plus the bindings.
 *
 *   struct pipeline pl = PIPELINE_INIT;
 *   if (pipeline_load("pipeline.json", &pl, &e) < 0)
 *           ... ERR_SPEC: "pipeline.json:31:30: input artifact 'BuildOut'
 *               of 'Deploy.Deploy' is not the output of any action"
 *               (exit 3)
 *   for (size_t s = 0; s < pl.nr_stages; s++)
 *           for (int g = 0; g < pl.stages[s].nr_groups; g++)
 *                   ... the actions with .group == g run side by side;
 *                   ... group g + 1 starts when all of them succeeded
 *   pipeline_release(&pl);
 *
 *   {"pipeline": {                      # as get-pipeline prints it
 *     "name": "web",
 *     "executionMode": "QUEUED",
 *     "variables": [{"name": "Env", "defaultValue": "test"}],
 *     "stages": [
 *       {"name": "Source", "actions": [{"name": "Src",
 *         "namespace": "SourceVariables",
 *         "actionTypeId": {"category": "Source", "owner": "AWS",
 *                          "provider": "CodeCommit", "version": "1"},
 *         "configuration": {"RepositoryName": "web", "BranchName": "main"},
 *         "outputArtifacts": [{"name": "Src"}]}]},
 *       {"name": "Build", "onFailure": {"result": "RETRY"}, "actions": [...]}
 *     ],
 *     "triggers": [...]},
 *    "slipway": {"sources": {"web": "."}, "projects": {...}, ...}}
 *
 * The file's top level is a mapping with 'pipeline' (required),
 * 'metadata' (ignored, as get-pipeline prints it) and 'slipway'. AWS-only
 * keys (roleArn, artifactStore, artifactStores, region, version,
 * pipelineType, an action's roleArn) are accepted and ignored, with one
 * note for the whole file (pl.notes). Unknown keys are warnings
 * (pl.warnings, "file:line:col: unknown key 'x' in 'y' ignored").
 *
 * Every error is ERR_SPEC "file:line:col: message" (exit 3) at the node
 * at fault, except a deployment group file that cannot be read or parsed:
 * its own error (and code) is kept, prefixed with the place that names
 * it. Paths in the slipway section are relative to the pipeline file's
 * directory, must exist, and are stored absolute and normalised; a source
 * may also be a git URL (not fetched here).
 *
 * The model keeps declaration order. What the engine needs beyond the
 * file is resolved here: each action's runOrder group, the producer of
 * each input artifact (pl_input.stage/.action), and the binding an action
 * names (pl_action.binding). Variable references are checked here and
 * left unresolved in the configuration values: vars.h scans them when
 * an action starts.
 */
#ifndef SW_PIPELINE_H
#define SW_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "strvec.h"

/* Limits of a declaration (CodePipeline's). */
#define PL_MAX_NAME 100
#define PL_MIN_STAGES 2
#define PL_MAX_STAGES 50
#define PL_MAX_STAGE_ACTIONS 50
#define PL_MAX_ACTIONS 500
#define PL_MAX_RUN_ORDER 999
#define PL_MAX_CONFIG_KEY 50
#define PL_MAX_CONFIG_VALUE 1000
#define PL_MAX_VARIABLES 50
#define PL_MAX_TRIGGERS 50

enum pl_category {
	PL_SOURCE,
	PL_BUILD,
	PL_TEST,
	PL_DEPLOY,
	PL_APPROVAL,
	PL_INVOKE,
	PL_COMPUTE
};

/* The providers slipway runs. */
enum pl_provider {
	PL_CODECOMMIT, /* Source/AWS */
	PL_CODESTAR, /* Source/AWS CodeStarSourceConnection */
	PL_GITHUB, /* Source/ThirdParty (GitHub version 1) */
	PL_S3, /* Source/AWS: a local file or directory */
	PL_CODEBUILD, /* Build or Test/AWS */
	PL_CODEDEPLOY, /* Deploy/AWS */
	PL_MANUAL, /* Approval/AWS */
	PL_COMMANDS, /* Compute/AWS (V2's commands action) */
	PL_COMMAND /* Invoke/Custom: a local command (configuration Command) */
};

enum pl_mode { PL_SUPERSEDED, PL_QUEUED, PL_PARALLEL };
enum pl_on_failure { PL_FAIL, PL_RETRY, PL_ROLLBACK, PL_SKIP };
enum pl_retry_mode { PL_FAILED_ACTIONS, PL_ALL_ACTIONS };

/* A configuration entry: a string for a string, as CodePipeline's. */
struct pl_kv {
	char *key, *value;
	int line, col; /* of the value */
};

/* A Commands action's environment variable. */
struct pl_envvar {
	char *name, *value;
	bool secret; /* type SECRETS_MANAGER (default PLAINTEXT) */
};

/* An artifact an action reads, and the action that writes it. */
struct pl_input {
	char *name;
	size_t stage,
		action; /* the producer: pl.stages[stage].actions[action] */
};

struct pl_action {
	char *name;
	enum pl_category category;
	enum pl_provider provider;
	char *owner, *provider_name, *version; /* as written */
	int run_order; /* 1-999, default 1 */
	int group; /* rank of run_order in its stage: 0 runs first */
	struct pl_kv *config;
	size_t nr_config;
	struct pl_input *inputs;
	size_t nr_inputs;
	struct strvec outputs; /* output artifact names */
	/* Commands: its output artifact's files (paths or globs); none:
	 * every file of its working directory */
	struct strvec files;
	char *namespace; /* or NULL */
	struct strvec commands; /* Commands */
	struct strvec output_variables; /* Commands */
	struct pl_envvar *env; /* Commands */
	size_t nr_env;
	int timeout_minutes; /* 0 when not given */
	/* CodeBuild: the first of its EnvironmentVariables whose type is
	 * PARAMETER_STORE or SECRETS_MANAGER, and that type; NULL if none */
	char *secret_var, *secret_type;
	/* Resolved through the slipway section: the source's, project's
	 * or deployment group's binding (an index into pl.sources,
	 * pl.projects, pl.groups), -1 for none. */
	int binding;
	int line, col; /* of the action's mapping */
};

struct pl_stage {
	char *name;
	struct pl_action *actions; /* in declaration order */
	size_t nr_actions;
	int nr_groups; /* distinct runOrder values */
	enum pl_on_failure on_failure; /* PL_FAIL when not given */
	bool on_failure_set;
	enum pl_retry_mode retry_mode; /* for PL_RETRY */
	int line, col;
};

struct pl_variable {
	char *name;
	char *default_value; /* NULL: must be given at start */
	char *description; /* or NULL */
};

/* A pattern list pair of a trigger filter. */
struct pl_patterns {
	struct strvec includes, excludes;
	bool set;
};

#define PL_EVENT_OPEN 1u
#define PL_EVENT_UPDATED 2u
#define PL_EVENT_CLOSED 4u

struct pl_filter {
	struct pl_patterns branches, tags, file_paths;
	unsigned events; /* pull requests: PL_EVENT_* bits */
};

struct pl_trigger {
	char *source_action; /* an action of the first stage */
	struct pl_filter *push;
	size_t nr_push;
	struct pl_filter *pull_request;
	size_t nr_pull_request;
};

/* slipway.sources and slipway.deployment-groups: name -> place. */
struct pl_binding {
	char *name; /* as the action names it */
	char *target; /* absolute path, or a git URL for a source */
	bool url; /* target is a git URL */
	int line, col; /* of the key */
};

/* slipway.projects: a CodeBuild ProjectName -> how to build. */
struct pl_project {
	char *name;
	char *buildspec; /* relative to the source; NULL: buildspec.yml */
	struct strvec env; /* "K=V" */
	char *secrets_file; /* absolute, or NULL */
	char *isolation; /* "dir", "sandbox", "auto", or NULL */
	struct strvec runs_on; /* reserved: host labels */
	int line, col;
};

/* slipway.notifications: a name (or NotificationArn) -> targets. */
struct pl_notification {
	char *name;
	char *command; /* run with the event on stdin, or NULL */
	char *url; /* http(s) URL to POST the event to, or NULL */
};

/*
 * slipway.statuses: a source name -> where its commits' statuses go
 * (docs/webhooks.md "Commit statuses").
 */
struct pl_status {
	char *source; /* a slipway.sources name */
	char *forge; /* "github", "gitlab" or "gitea" */
	char *api; /* API base, no trailing slash */
	char *repository; /* owner/name (GitLab: its path or numeric id) */
	char *token_file; /* absolute */
	char *context; /* the status's context (GitLab: name) */
	int line, col; /* of the key */
};

struct pipeline {
	char *file; /* as given */
	char *dir; /* its directory, absolute */
	char *name;
	enum pl_mode mode;
	struct pl_stage *stages;
	size_t nr_stages;
	struct pl_variable *variables;
	size_t nr_variables;
	struct pl_trigger *triggers;
	size_t nr_triggers;
	struct pl_binding *sources;
	size_t nr_sources;
	struct pl_project *projects;
	size_t nr_projects;
	struct pl_binding *groups; /* name "Application/Group" */
	size_t nr_groups;
	struct pl_notification *notifications;
	size_t nr_notifications;
	char *webhook_secret_file; /* absolute, or NULL */
	/* where a Commands action's SECRETS_MANAGER variables are looked
	 * up (secrets.h's file format): absolute, or NULL */
	char *secrets_file;
	int poll_seconds; /* 0: no polling */
	bool allow_fork_pull_requests; /* slipway.allow-fork-pull-requests */
	struct pl_status *statuses;
	size_t nr_statuses;
	struct strvec warnings;
	struct strvec notes;
	/* The warnings about unknown keys, again: --strict makes them
	 * errors. */
	struct strvec unknown_keys;
};

#define PIPELINE_INIT                                                          \
	{                                                                      \
		NULL                                                           \
	}

/* Parse and validate a pipeline file; on failure *pl is released. */
int pipeline_load(const char *path, struct pipeline *pl, struct sw_err *e);
/* From memory, for tests and the fuzzer: name is used in messages, dir
 * for relative paths (NULL: name's directory). */
int pipeline_parse(const char *name, const char *dir, const char *data,
		   size_t len, struct pipeline *pl, struct sw_err *e);
void pipeline_release(struct pipeline *pl);

/* A YAML/JSON top level that is a pipeline file: a mapping with a
 * 'pipeline' key. */
struct ynode;
bool pipeline_sniff(const struct ynode *root);

/* The value of a configuration key of an action, or NULL. */
const char *pl_action_config(const struct pl_action *a, const char *key);
/* Names for messages: "Source", "CodeBuild", "SUPERSEDED", "RETRY". */
const char *pl_category_name(enum pl_category c);
const char *pl_mode_name(enum pl_mode m);
const char *pl_on_failure_name(enum pl_on_failure f);
size_t pipeline_nr_actions(const struct pipeline *pl);

#endif
