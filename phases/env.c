#include "env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

static long find(const struct strvec *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < env->nr; i++)
		if (!strncmp(env->v[i], name, len) && env->v[i][len] == '=')
			return (long)i;
	return -1;
}

const char *env_get(const struct strvec *env, const char *name)
{
	long i = find(env, name);

	return i < 0 ? NULL : env->v[i] + strlen(name) + 1;
}

void env_set(struct strvec *env, const char *name, const char *value)
{
	long i = find(env, name);

	if (i < 0) {
		strvec_pushf(env, "%s=%s", name, value);
		return;
	}
	free(env->v[i]);
	env->v[i] = xasprintf("%s=%s", name, value);
}

void env_unset(struct strvec *env, const char *name)
{
	long i = find(env, name);

	if (i < 0)
		return;
	free(env->v[i]);
	memmove(env->v + i, env->v + i + 1,
		(env->nr - (size_t)i) * sizeof(*env->v));
	env->nr--;
}

static const char *lookup(const char *const *from, const char *name)
{
	size_t len = strlen(name);

	for (; from && *from; from++)
		if (!strncmp(*from, name, len) && (*from)[len] == '=')
			return *from + len + 1;
	return NULL;
}

void env_base(struct strvec *env, bool inherit, const char *const *from)
{
	static const char *const keep[] = { "PATH", "HOME", "USER", "LANG",
					    "TERM" };

	if (inherit) {
		for (; from && *from; from++)
			if (strchr(*from, '='))
				strvec_push(env, *from);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		const char *v = lookup(from, keep[i]);

		if (!v && !strcmp(keep[i], "PATH"))
			v = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/"
			    "bin:/sbin:/bin";
		if (v)
			env_set(env, keep[i], v);
	}
}

const char *env_region(const char *const *from)
{
	const char *r = lookup(from, "AWS_REGION");

	if (!r || !*r)
		r = lookup(from, "AWS_DEFAULT_REGION");
	return r && *r ? r : "us-east-1";
}

void env_add_codebuild(struct strvec *env, const struct env_codebuild *cb)
{
	char num[32], kms[160];

	env_set(env, "AWS_REGION", cb->region);
	env_set(env, "AWS_DEFAULT_REGION", cb->region);
	env_set(env, "CODEBUILD_BUILD_ID", cb->build_id);
	env_set(env, "CODEBUILD_BUILD_ARN", cb->build_arn);
	snprintf(num, sizeof(num), "%ld", cb->build_number);
	env_set(env, "CODEBUILD_BUILD_NUMBER", num);
	env_set(env, "CODEBUILD_BUILD_SUCCEEDING", "1");
	env_set(env, "CODEBUILD_BUILD_IMAGE", "slipway/local");
	/* CodeBuild's default key for artifacts, the AWS-managed S3 key, in
	 * the account CODEBUILD_BUILD_ARN names. */
	snprintf(kms, sizeof(kms), "arn:aws:kms:%s:000000000000:alias/aws/s3",
		 cb->region);
	env_set(env, "CODEBUILD_KMS_KEY_ID", kms);
	if (cb->build_url)
		env_set(env, "CODEBUILD_BUILD_URL", cb->build_url);
	env_set(env, "CODEBUILD_INITIATOR", cb->initiator);
	env_set(env, "CODEBUILD_LOG_PATH", cb->log_path);
	env_set(env, "CODEBUILD_SRC_DIR", cb->src_dir);
	snprintf(num, sizeof(num), "%lld", (long long)cb->start_ms);
	env_set(env, "CODEBUILD_START_TIME", num);
	env_set(env, "CODEBUILD_LOCAL_BUILD", "true");
	env_set(env, "CODEBUILD_CI", "true");
	env_set(env, "CODEBUILD_LAST_EXIT", "0");
	if (cb->source_version)
		env_set(env, "CODEBUILD_SOURCE_VERSION", cb->source_version);
	if (cb->resolved_source_version)
		env_set(env, "CODEBUILD_RESOLVED_SOURCE_VERSION",
			cb->resolved_source_version);
	if (cb->source_repo_url)
		env_set(env, "CODEBUILD_SOURCE_REPO_URL", cb->source_repo_url);
}
