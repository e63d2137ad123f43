/*
 * env: the build's environment, as a list of NAME=value strings, and the
 * variables CodeBuild sets (reference codebuild.md section 3).
 *
 *   struct strvec env = STRVEC_INIT;
 *   env_base(&env, inherit, environ);     -- PATH HOME USER LANG TERM
 *   struct env_codebuild cb = { .build_id = id, ... };
 *   env_add_codebuild(&env, &cb);
 *   env_set(&env, "FOO", "bar");          -- replaces an earlier FOO
 *
 * Precedence is the caller's: set the lowest first (buildspec, env
 * file, command line), since each env_set replaces.
 */
#ifndef SW_ENV_H
#define SW_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "strvec.h"

struct env_codebuild {
	const char *build_id; /* <project>:<uuid> */
	const char *build_arn;
	long build_number;
	const char *src_dir;
	int64_t start_ms;
	const char *initiator;
	const char *region;
	const char *source_version; /* NULL: not set */
	const char *resolved_source_version; /* NULL: not set */
	const char *source_repo_url; /* NULL: not set */
	const char *log_path; /* the build's uuid */
	const char *build_url; /* CODEBUILD_BUILD_URL; NULL: not set */
};

/* The clean base (PATH, HOME, USER, LANG, TERM from from[]) or, with
 * inherit, all of from[]. */
void env_base(struct strvec *env, bool inherit, const char *const *from);
void env_add_codebuild(struct strvec *env, const struct env_codebuild *cb);

void env_set(struct strvec *env, const char *name, const char *value);
void env_unset(struct strvec *env, const char *name);
/* The value or NULL. */
const char *env_get(const struct strvec *env, const char *name);

/* AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1. */
const char *env_region(const char *const *from);

#endif
