#include "buildspec.h"

#include <limits.h>
#include <stdint.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "suggest.h"
#include "xalloc.h"
#include "yaml.h"
#include "banned.h"

#define BS_MAX_REPORTS 5
#define BS_MAX_FALLBACK_KEYS 5
#define BS_MAX_RETRY 100
#define BS_DEFAULT_RETRY 3

static const char *const phase_keys[BS_NPHASES] = { "install", "pre_build",
						    "build", "post_build" };
static const char *const phase_types[BS_NPHASES] = { "INSTALL", "PRE_BUILD",
						     "BUILD", "POST_BUILD" };

static const char *const report_formats[] = { "CUCUMBERJSON", "JUNITXML",
					      "NUNITXML",     "NUNIT3XML",
					      "TESTNGXML",    "VISUALSTUDIOTRX",
					      "CLOVERXML",    "COBERTURAXML",
					      "JACOCOXML",    "SIMPLECOV" };

const char *bs_phase_key(enum bs_phase_id id)
{
	return (unsigned)id < BS_NPHASES ? phase_keys[id] : "unknown";
}

const char *bs_phase_type(enum bs_phase_id id)
{
	return (unsigned)id < BS_NPHASES ? phase_types[id] : "UNKNOWN";
}

/* The parse in progress. */
struct bsp {
	const struct ydoc *doc;
	struct buildspec *bs;
	struct sw_err *e;
};

#define bad(p, n, ...) ydoc_err((p)->doc, (n), (p)->e, __VA_ARGS__)

#define warnf(p, n, ...) ywarn((p)->doc, (n), &(p)->bs->warnings, __VA_ARGS__)

/* What CodeBuild accepts silently but is likely a slip: --strict shows it. */
#define strictf(p, n, ...)                                                     \
	ywarn((p)->doc, (n), &(p)->bs->strict_warnings, __VA_ARGS__)

/* A NULL-ended list of the keys a mapping may hold, for unknown_key(). */
#define KEYS(...)                                                              \
	(const char *const[])                                                  \
	{                                                                      \
		__VA_ARGS__, NULL                                              \
	}

/* The last warning is about an unknown key: --strict makes it an error. */
static void unknown_last(struct bsp *p)
{
	struct strvec *w = &p->bs->warnings;

	strvec_push(&p->bs->unknown_keys, w->v[w->nr - 1]);
}

/* Warn about an unknown key, with the known key it is closest to. */
static void unknown_key(struct bsp *p, const struct ynode *k,
			const char *const *known)
{
	size_t nr = 0;
	const char *s;

	while (known[nr])
		nr++;
	s = suggest_closest(k->value, k->len, known, nr);
	if (s)
		warnf(p, k, "unknown key '%s' ignored (did you mean '%s'?)",
		      yshown(k).s, s);
	else
		warnf(p, k, "unknown key '%s' ignored", yshown(k).s);
	unknown_last(p);
}

/* "<path>.<key>" for messages. */
static void subpath(char *out, size_t size, const char *path,
		    const struct ynode *k)
{
	snprintf(out, size, "%s.%s", path, yshown(k).s);
}

/* A mapping, or NULL for a null value; anything else is an error. */
static int want_map(struct bsp *p, const struct ynode *n, const char *path)
{
	if (ynode_is_null(n) || n->type == YNODE_MAP)
		return 0;
	return bad(p, n, "'%s' must be a mapping", path);
}

/* A string: NULL stays unset; sequences and mappings are errors. */
static int get_str(struct bsp *p, const struct ynode *n, const char *path,
		   char **out)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR)
		return bad(p, n, "'%s' must be a string, not a %s", path,
			   ynode_kind(n));
	if (ynode_has_nul(n))
		return bad(p, n, "'%s' must not contain a NUL character", path);
	free(*out);
	*out = xstrdup(n->value);
	return 0;
}

/* A value kept as written; null is "". */
static int get_value(struct bsp *p, const struct ynode *n, const char *path,
		     char **out)
{
	if (ynode_is_null(n)) {
		free(*out);
		*out = xstrdup("");
		return 0;
	}
	return get_str(p, n, path, out);
}

static int get_bool(struct bsp *p, const struct ynode *n, const char *path,
		    bool *out)
{
	if (ynode_is_null(n))
		return 0;
	if (ynode_bool(n, out) < 0)
		return bad(p, n,
			   "'%s' must be a boolean (yes, no, true, false)",
			   path);
	return 0;
}

#define get_list(p, n, path, out)                                              \
	ynode_strlist((p)->doc, (n), (path), (out), (p)->e)

/* A required, non-empty list of paths. */
static int get_files(struct bsp *p, const struct ynode *map,
		     const struct ynode *n, const char *path,
		     struct strvec *out)
{
	if (!n)
		return bad(p, map, "'%s' is required", path);
	if (get_list(p, n, path, out) < 0)
		return -1;
	if (!out->nr)
		return bad(p, n, "'%s' must not be empty", path);
	return 0;
}

static bool valid_var_name(const char *s, size_t len)
{
	if (!len || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
		      (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];

		if (!(c == '_' || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static int check_var_name(struct bsp *p, const struct ynode *k,
			  const char *path)
{
	if (!valid_var_name(k->value, k->len))
		return bad(p, k, "invalid variable name '%s' in '%s'",
			   yshown(k).s, path);
	if (!strncmp(k->value, "CODEBUILD_", 10))
		warnf(p, k,
		      "variable '%s' uses the reserved prefix 'CODEBUILD_'",
		      yshown(k).s);
	return 0;
}

static void kv_push(struct bs_kvlist *l, const struct ynode *k, char *value)
{
	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	l->v[l->nr++] = (struct bs_kv){ .name = xstrdup(k->value),
					.value = value,
					.line = k->line,
					.col = k->col };
}

enum kv_flags {
	KV_NAMES = 1, /* names are environment variable names */
	KV_NONEMPTY = 2 /* values must not be empty */
};

/* A mapping of name -> scalar, values kept as written. */
static int get_kvlist(struct bsp *p, const struct ynode *n, const char *path,
		      struct bs_kvlist *out, int flags)
{
	char sub[256];

	if (want_map(p, n, path) < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];
		char *value = NULL;

		if (ynode_has_nul(k))
			return bad(p, k,
				   "'%s' keys must not contain a NUL "
				   "character",
				   path);
		if ((flags & KV_NAMES) && check_var_name(p, k, path) < 0)
			return -1;
		subpath(sub, sizeof(sub), path, k);
		if (get_value(p, n->items[i], sub, &value) < 0)
			return -1;
		if ((flags & KV_NONEMPTY) && !*value) {
			free(value);
			return bad(p, ynode_at(n->items[i], k),
				   "'%s' must not be empty", sub);
		}
		kv_push(out, k, value);
	}
	return 0;
}

/* out gets the commands, *lines (grown with it) their lines */
static void push_command(struct strvec *out, int **lines, const struct ynode *c)
{
	strvec_push(out, c->value);
	*lines = xrealloc(*lines, out->nr * sizeof(**lines));
	(*lines)[out->nr - 1] = c->line;
}

static int get_commands(struct bsp *p, const struct ynode *n, const char *path,
			struct strvec *out, int **lines)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type == YNODE_SCALAR) {
		if (ynode_has_nul(n))
			return bad(p, n,
				   "'%s' must not contain a NUL character",
				   path);
		warnf(p, n,
		      "'%s' should be a sequence; taking it as one command",
		      path);
		push_command(out, lines, n);
		return 0;
	}
	if (n->type != YNODE_SEQ)
		return bad(p, n, "'%s' must be a sequence of commands", path);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *c = n->items[i];

		if (c->type != YNODE_SCALAR)
			return bad(p, c,
				   "a command in '%s' must be a string, not a "
				   "%s (quote a command that contains ': ')",
				   path, ynode_kind(c));
		if (ynode_has_nul(c))
			return bad(p, c,
				   "a command in '%s' must not contain a NUL "
				   "character",
				   path);
		if (ynode_is_null(c)) {
			warnf(p, c, "empty command in '%s' ignored", path);
			continue;
		}
		push_command(out, lines, c);
	}
	return 0;
}

static int parse_on_failure(struct bsp *p, const struct ynode *n,
			    const char *path, struct bs_phase *ph)
{
	const char *s, *rest, *re;
	char msg[256];
	regex_t rx;
	size_t digits = 0;
	int rc;

	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR || ynode_has_nul(n))
		return bad(p, n, "'%s' must be a string", path);
	s = n->value;
	if (!strcasecmp(s, "ABORT")) {
		ph->on_failure = BS_ONFAIL_ABORT;
		return 0;
	}
	if (!strcasecmp(s, "CONTINUE")) {
		ph->on_failure = BS_ONFAIL_CONTINUE;
		return 0;
	}
	ph->retry_count = BS_DEFAULT_RETRY;
	if (!strcasecmp(s, "RETRY")) {
		ph->on_failure = BS_ONFAIL_RETRY;
		return 0;
	}
	if (strncasecmp(s, "RETRY-", 6))
		return bad(p, n,
			   "invalid '%s' value '%s' (expected ABORT, CONTINUE, "
			   "RETRY, RETRY-<count>, RETRY-<regex> or "
			   "RETRY-<count>-<regex>)",
			   path, yshown(n).s);
	rest = s + 6;
	while (rest[digits] >= '0' && rest[digits] <= '9')
		digits++;
	re = rest;
	if (digits && (!rest[digits] || rest[digits] == '-')) {
		long count = digits > 3 ? LONG_MAX : strtol(rest, NULL, 10);

		if (count > BS_MAX_RETRY)
			return bad(p, n,
				   "invalid retry count in '%s' value '%s' "
				   "(0 to %d)",
				   path, yshown(n).s, BS_MAX_RETRY);
		ph->retry_count = (int)count;
		re = rest[digits] ? rest + digits + 1 : NULL;
	}
	if (re && !*re)
		return bad(p, n, "empty retry regex in '%s' value '%s'", path,
			   yshown(n).s);
	if (re) {
		rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			regerror(rc, &rx, msg, sizeof(msg));
			return bad(p, n, "invalid retry regex '%s' in '%s': %s",
				   yshow(re, strlen(re)).s, path, msg);
		}
		regfree(&rx);
		ph->retry_regex = xstrdup(re);
	}
	ph->on_failure = BS_ONFAIL_RETRY;
	return 0;
}

static int parse_phase(struct bsp *p, enum bs_phase_id id,
		       const struct ynode *k, const struct ynode *n)
{
	struct bs_phase *ph = &p->bs->phases[id];
	char path[64], sub[96];

	snprintf(path, sizeof(path), "phases.%s", phase_keys[id]);
	ph->present = true;
	ph->line = k->line;
	ph->col = k->col;
	if (want_map(p, n, path) < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *key = n->keys[i], *v = n->items[i];
		int rc = 0;

		subpath(sub, sizeof(sub), path, key);
		if (ykey_is(key, "run-as")) {
			rc = get_str(p, v, sub, &ph->run_as);
		} else if (ykey_is(key, "on-failure")) {
			rc = parse_on_failure(p, v, sub, ph);
		} else if (ykey_is(key, "runtime-versions")) {
			if (id != BS_INSTALL)
				warnf(p, key,
				      "'runtime-versions' is only used in "
				      "install; ignored");
			else
				rc = get_kvlist(p, v, sub,
						&ph->runtime_versions, 0);
		} else if (ykey_is(key, "commands")) {
			rc = get_commands(p, v, sub, &ph->commands,
					  &ph->command_lines);
		} else if (ykey_is(key, "finally")) {
			rc = get_commands(p, v, sub, &ph->finally,
					  &ph->finally_lines);
		} else {
			unknown_key(p, key,
				    KEYS("run-as", "on-failure",
					 "runtime-versions", "commands",
					 "finally"));
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int parse_phases(struct bsp *p, const struct ynode *n)
{
	if (want_map(p, n, "phases") < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];
		int id;

		for (id = 0; id < BS_NPHASES; id++)
			if (ykey_is(k, phase_keys[id]))
				break;
		if (id == BS_NPHASES) {
			const char *sug = suggest_closest(
				k->value, k->len, phase_keys, BS_NPHASES);

			if (sug)
				warnf(p, k,
				      "unknown phase '%s' ignored (did you "
				      "mean '%s'?)",
				      yshown(k).s, sug);
			else
				warnf(p, k, "unknown phase '%s' ignored",
				      yshown(k).s);
			unknown_last(p);
			continue;
		}
		if (parse_phase(p, (enum bs_phase_id)id, k, n->items[i]) < 0)
			return -1;
	}
	return 0;
}

static int parse_env(struct bsp *p, const struct ynode *n)
{
	struct buildspec *bs = p->bs;
	char sub[96];

	if (want_map(p, n, "env") < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		snprintf(sub, sizeof(sub), "env.%s", yshown(k).s);
		if (ykey_is(k, "shell")) {
			rc = get_str(p, v, sub, &bs->shell);
		} else if (ykey_is(k, "variables")) {
			rc = get_kvlist(p, v, sub, &bs->variables, KV_NAMES);
		} else if (ykey_is(k, "parameter-store")) {
			rc = get_kvlist(p, v, sub, &bs->parameter_store,
					KV_NAMES | KV_NONEMPTY);
		} else if (ykey_is(k, "secrets-manager")) {
			rc = get_kvlist(p, v, sub, &bs->secrets_manager,
					KV_NAMES | KV_NONEMPTY);
		} else if (ykey_is(k, "exported-variables")) {
			size_t first = bs->exported_variables.nr;

			rc = get_list(p, v, sub, &bs->exported_variables);
			for (size_t j = first;
			     !rc && j < bs->exported_variables.nr; j++) {
				const char *name = bs->exported_variables.v[j];

				if (!valid_var_name(name, strlen(name)))
					rc = bad(
						p, v,
						"invalid variable name '%s' in "
						"'%s'",
						yshow(name, strlen(name)).s,
						sub);
				else if (!strncmp(name, "AWS_", 4))
					warnf(p, v,
					      "variables starting with 'AWS_' "
					      "cannot be exported ('%s')",
					      yshow(name, strlen(name)).s);
			}
		} else if (ykey_is(k, "git-credential-helper")) {
			rc = get_bool(p, v, sub, &bs->git_credential_helper);
		} else {
			unknown_key(p, k,
				    KEYS("shell", "variables",
					 "parameter-store", "secrets-manager",
					 "exported-variables",
					 "git-credential-helper"));
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Version 0.1: environment_variables: {plaintext: {...}}. */
static int parse_env_v01(struct bsp *p, const struct ynode *n)
{
	if (want_map(p, n, "environment_variables") < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];

		if (!ykey_is(k, "plaintext")) {
			unknown_key(p, k, KEYS("plaintext"));
			continue;
		}
		if (get_kvlist(p, n->items[i],
			       "environment_variables.plaintext",
			       &p->bs->variables, KV_NAMES) < 0)
			return -1;
	}
	return 0;
}

static bool valid_artifact_id(const char *s, size_t len)
{
	if (!len || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

static int parse_artifact(struct bsp *p, const struct ynode *n,
			  const char *path, struct bs_artifact *a,
			  bool primary);

static int parse_secondary(struct bsp *p, const struct ynode *n,
			   const char *path)
{
	struct buildspec *bs = p->bs;
	char sub[256];

	if (want_map(p, n, path) < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];
		struct bs_artifact *a;

		if (!valid_artifact_id(k->value, k->len))
			return bad(p, k,
				   "invalid artifact identifier '%s' (letters, "
				   "digits, '_', '-' and '.' only)",
				   yshown(k).s);
		subpath(sub, sizeof(sub), path, k);
		ALLOC_GROW(bs->secondary, bs->nr_secondary + 1,
			   bs->alloc_secondary);
		a = &bs->secondary[bs->nr_secondary++];
		memset(a, 0, sizeof(*a));
		a->identifier = xstrdup(k->value);
		a->line = k->line;
		a->col = k->col;
		if (ynode_is_null(n->items[i]))
			return bad(p, k, "'%s' must be a mapping", sub);
		if (parse_artifact(p, n->items[i], sub, a, false) < 0)
			return -1;
	}
	return 0;
}

static int parse_artifact(struct bsp *p, const struct ynode *n,
			  const char *path, struct bs_artifact *a, bool primary)
{
	const struct ynode *files = NULL, *setting = NULL;
	char sub[300];

	if (n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping", path);
	if (primary) {
		a->line = n->line;
		a->col = n->col;
	}
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		subpath(sub, sizeof(sub), path, k);
		if (ykey_is(k, "files")) {
			files = v;
			rc = get_files(p, n, v, sub, &a->files);
		} else if (ykey_is(k, "name")) {
			rc = get_str(p, v, sub, &a->name);
		} else if (ykey_is(k, "base-directory")) {
			rc = get_str(p, v, sub, &a->base_directory);
		} else if (ykey_is(k, "discard-paths")) {
			rc = get_bool(p, v, sub, &a->discard_paths);
		} else if (ykey_is(k, "exclude-paths")) {
			rc = get_list(p, v, sub, &a->exclude_paths);
		} else if (ykey_is(k, "enable-symlinks")) {
			rc = get_bool(p, v, sub, &a->enable_symlinks);
		} else if (ykey_is(k, "s3-prefix")) {
			rc = get_str(p, v, sub, &a->s3_prefix);
		} else if (primary && ykey_is(k, "secondary-artifacts")) {
			rc = parse_secondary(p, v, sub);
			k = NULL;
		} else if (ykey_is(k, "type")) {
			warnf(p, k, "'%s' is deprecated; ignored", sub);
		} else {
			unknown_key(p, k,
				    KEYS("files", "name", "base-directory",
					 "discard-paths", "exclude-paths",
					 "enable-symlinks", "s3-prefix",
					 "secondary-artifacts"));
			k = NULL;
		}
		if (rc < 0)
			return -1;
		if (k && !setting && !ykey_is(k, "files") &&
		    !ykey_is(k, "type"))
			setting = k;
	}
	/* Only secondary artifacts: no primary one (CodeBuild's multiple
	 * inputs and outputs sample, and CodePipeline with several output
	 * artifacts, write artifacts this way). */
	if (!files && !(primary && p->bs->nr_secondary)) {
		snprintf(sub, sizeof(sub), "%s.files", path);
		return bad(p, n, "'%s' is required", sub);
	}
	if (!files && setting)
		strictf(p, setting,
			"'%s.%s' applies to no artifact: without '%s.files' "
			"there is no primary artifact",
			path, yshown(setting).s, path);
	return 0;
}

static int parse_report(struct bsp *p, const struct ynode *k,
			const struct ynode *n, struct bs_report_group *r)
{
	const struct ynode *files = NULL;
	char path[128], sub[160];

	snprintf(path, sizeof(path), "reports.%s", yshown(k).s);
	if (!n || n->type != YNODE_MAP)
		return bad(p, ynode_at(n, k), "'%s' must be a mapping", path);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *key = n->keys[i], *v = n->items[i];
		int rc = 0;

		subpath(sub, sizeof(sub), path, key);
		if (ykey_is(key, "files")) {
			files = v;
			rc = get_files(p, n, v, sub, &r->files);
		} else if (ykey_is(key, "base-directory")) {
			rc = get_str(p, v, sub, &r->base_directory);
		} else if (ykey_is(key, "discard-paths")) {
			rc = get_bool(p, v, sub, &r->discard_paths);
		} else if (ykey_is(key, "file-format")) {
			size_t j;

			rc = get_str(p, v, sub, &r->file_format);
			if (rc || !r->file_format)
				goto next;
			for (char *c = r->file_format; *c; c++)
				if (*c >= 'a' && *c <= 'z')
					*c = (char)(*c - 'a' + 'A');
			for (j = 0; j < ARRAY_SIZE(report_formats); j++)
				if (!strcmp(r->file_format, report_formats[j]))
					break;
			if (j == ARRAY_SIZE(report_formats))
				rc = bad(p, v,
					 "unknown report file-format '%s' in "
					 "'%s' (expected JUNITXML, "
					 "CUCUMBERJSON, NUNITXML, NUNIT3XML, "
					 "TESTNGXML, VISUALSTUDIOTRX, "
					 "CLOVERXML, COBERTURAXML, JACOCOXML "
					 "or SIMPLECOV)",
					 yshown(v).s, sub);
		} else {
			unknown_key(p, key,
				    KEYS("files", "base-directory",
					 "discard-paths", "file-format"));
		}
	next:
		if (rc < 0)
			return -1;
	}
	if (!files) {
		snprintf(sub, sizeof(sub), "%s.files", path);
		return bad(p, n, "'%s' is required", sub);
	}
	if (!r->file_format)
		r->file_format = xstrdup("JUNITXML");
	return 0;
}

static int parse_reports(struct bsp *p, const struct ynode *n)
{
	struct buildspec *bs = p->bs;

	if (want_map(p, n, "reports") < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];
		struct bs_report_group *r;

		if (i == BS_MAX_REPORTS)
			return bad(p, k, "at most %d report groups are allowed",
				   BS_MAX_REPORTS);
		if (ynode_has_nul(k) || !k->len)
			return bad(p, k, "invalid report group name '%s'",
				   yshown(k).s);
		ALLOC_GROW(bs->reports, bs->nr_reports + 1, bs->alloc_reports);
		r = &bs->reports[bs->nr_reports++];
		memset(r, 0, sizeof(*r));
		r->name = xstrdup(k->value);
		r->line = k->line;
		r->col = k->col;
		if (parse_report(p, k, n->items[i], r) < 0)
			return -1;
	}
	return 0;
}

static int parse_cache(struct bsp *p, const struct ynode *n)
{
	struct bs_cache *c = &p->bs->cache;
	char sub[96];

	if (want_map(p, n, "cache") < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	c->present = true;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		snprintf(sub, sizeof(sub), "cache.%s", yshown(k).s);
		if (ykey_is(k, "key")) {
			rc = get_str(p, v, sub, &c->key);
		} else if (ykey_is(k, "fallback-keys")) {
			rc = get_list(p, v, sub, &c->fallback_keys);
			if (!rc && c->fallback_keys.nr > BS_MAX_FALLBACK_KEYS)
				rc = bad(p, v,
					 "at most %d 'cache.fallback-keys' are "
					 "allowed",
					 BS_MAX_FALLBACK_KEYS);
		} else if (ykey_is(k, "action")) {
			rc = get_str(p, v, sub, &c->action);
			if (rc || !c->action)
				goto next;
			if (!strcasecmp(c->action, "restore")) {
				free(c->action);
				c->action = xstrdup("restore");
			} else if (!strcasecmp(c->action, "save")) {
				free(c->action);
				c->action = xstrdup("save");
			} else {
				rc = bad(p, v,
					 "'cache.action' must be 'restore' or "
					 "'save', not '%s'",
					 yshown(v).s);
			}
		} else if (ykey_is(k, "paths")) {
			rc = get_list(p, v, sub, &c->paths);
		} else {
			unknown_key(p, k,
				    KEYS("key", "fallback-keys", "action",
					 "paths"));
		}
	next:
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int parse_batch_env(struct bsp *p, const struct ynode *n,
			   const char *path, struct bs_batch_env *env)
{
	const struct ynode *compute = NULL, *fleet = NULL;
	char sub[256];

	if (want_map(p, n, path) < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		subpath(sub, sizeof(sub), path, k);
		if (ykey_is(k, "compute-type")) {
			compute = k;
			rc = get_str(p, v, sub, &env->compute_type);
		} else if (ykey_is(k, "fleet")) {
			fleet = k;
			rc = get_str(p, v, sub, &env->fleet);
		} else if (ykey_is(k, "image")) {
			rc = get_str(p, v, sub, &env->image);
		} else if (ykey_is(k, "type")) {
			rc = get_str(p, v, sub, &env->type);
		} else if (ykey_is(k, "privileged-mode")) {
			rc = get_bool(p, v, sub, &env->privileged_mode);
		} else if (ykey_is(k, "variables")) {
			rc = get_kvlist(p, v, sub, &env->variables, KV_NAMES);
		} else {
			unknown_key(p, k,
				    KEYS("compute-type", "fleet", "image",
					 "type", "privileged-mode",
					 "variables"));
		}
		if (rc < 0)
			return -1;
	}
	if (compute && fleet)
		return bad(p,
			   (compute->line > fleet->line ||
			    (compute->line == fleet->line &&
			     compute->col > fleet->col))
				   ? compute
				   : fleet,
			   "'%s' cannot have both 'compute-type' and 'fleet'",
			   path);
	return 0;
}

static bool valid_task_id(const char *s, size_t len)
{
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int parse_task(struct bsp *p, const struct ynode *n, const char *path,
		      bool graph, struct bs_batch_task *t,
		      const struct ynode **deps)
{
	const struct ynode *id = NULL;
	char sub[160];

	if (n->type != YNODE_MAP)
		return bad(p, n, "'%s' items must be mappings, not a %s", path,
			   ynode_kind(n));
	t->line = n->line;
	t->col = n->col;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		subpath(sub, sizeof(sub), path, k);
		if (ykey_is(k, "identifier")) {
			id = ynode_at(v, k);
			rc = get_str(p, v, sub, &t->identifier);
			if (!rc && t->identifier &&
			    !valid_task_id(t->identifier,
					   strlen(t->identifier)))
				rc = bad(p, v,
					 "invalid batch identifier '%s' "
					 "(letters, digits and '_' only)",
					 yshown(v).s);
		} else if (ykey_is(k, "buildspec")) {
			rc = get_str(p, v, sub, &t->buildspec);
		} else if (ykey_is(k, "debug-session")) {
			rc = get_bool(p, v, sub, &t->debug_session);
		} else if (ykey_is(k, "ignore-failure")) {
			rc = get_bool(p, v, sub, &t->ignore_failure);
		} else if (ykey_is(k, "depend-on")) {
			if (!graph) {
				warnf(p, k,
				      "'depend-on' is only used in "
				      "build-graph; "
				      "ignored");
			} else {
				*deps = ynode_at(v, k);
				rc = get_list(p, v, sub, &t->depend_on);
			}
		} else if (ykey_is(k, "env")) {
			rc = parse_batch_env(p, v, sub, &t->env);
		} else {
			unknown_key(p, k,
				    KEYS("identifier", "buildspec",
					 "debug-session", "ignore-failure",
					 "depend-on", "env"));
		}
		if (rc < 0)
			return -1;
	}
	if (!t->identifier)
		return bad(p, id ? id : n, "'%s' task needs an 'identifier'",
			   path);
	return 0;
}

struct task_ix {
	const char *id;
	size_t i;
};

static int task_ix_cmp(const void *a, const void *b)
{
	const struct task_ix *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->i < y->i ? -1 : x->i > y->i;
}

static long task_find(const struct task_ix *ix, size_t nr, const char *id)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ix[mid].id, id);

		if (!c) {
			while (mid > lo && !strcmp(ix[mid - 1].id, id))
				mid--;
			return (long)ix[mid].i;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * Identifiers are unique; in a graph every depend-on names a task and
 * there is no cycle (Kahn's algorithm, so hostile input stays linear).
 */
static int check_tasks(struct bsp *p, const char *path,
		       const struct ynode *const *deps)
{
	struct bs_batch *b = &p->bs->batch;
	size_t nr = b->nr_tasks, dup = nr, nr_edges = 0, head = 0, tail = 0;
	struct task_ix *ix = xcalloc(nr + 1, sizeof(*ix));
	size_t *indeg = NULL, *start = NULL, *edges = NULL, *queue = NULL;
	int ret = -1;

	for (size_t i = 0; i < nr; i++)
		ix[i] = (struct task_ix){ b->tasks[i].identifier, i };
	qsort(ix, nr, sizeof(*ix), task_ix_cmp);
	for (size_t i = 1; i < nr; i++)
		if (!strcmp(ix[i - 1].id, ix[i].id) && ix[i].i < dup)
			dup = ix[i].i;
	if (dup < nr) {
		const struct bs_batch_task *t = &b->tasks[dup];

		ydoc_err(p->doc,
			 &(struct ynode){ .line = t->line, .col = t->col },
			 p->e, "duplicate batch identifier '%s' in '%s'",
			 yshow(t->identifier, strlen(t->identifier)).s, path);
		goto out;
	}
	if (b->type != BS_BATCH_GRAPH) {
		ret = 0;
		goto out;
	}

	indeg = xcalloc(nr + 1, sizeof(*indeg));
	start = xcalloc(nr + 2, sizeof(*start));
	for (size_t i = 0; i < nr; i++) {
		const struct bs_batch_task *t = &b->tasks[i];

		for (size_t d = 0; d < t->depend_on.nr; d++) {
			const char *dep = t->depend_on.v[d];
			long j = task_find(ix, nr, dep);

			if (j < 0) {
				bad(p, deps[i],
				    "task '%s' depends on unknown identifier "
				    "'%s'",
				    yshow(t->identifier, strlen(t->identifier))
					    .s,
				    yshow(dep, strlen(dep)).s);
				goto out;
			}
			indeg[i]++;
			start[j + 1]++;
			nr_edges++;
		}
	}
	/* edges[start[j]..start[j+1]) are the tasks that wait for j */
	for (size_t j = 0; j < nr; j++)
		start[j + 1] += start[j];
	edges = xcalloc(nr_edges + 1, sizeof(*edges));
	{
		size_t *fill = xcalloc(nr + 1, sizeof(*fill));

		for (size_t i = 0; i < nr; i++) {
			const struct bs_batch_task *t = &b->tasks[i];

			for (size_t d = 0; d < t->depend_on.nr; d++) {
				size_t j = (size_t)task_find(ix, nr,
							     t->depend_on.v[d]);

				edges[start[j] + fill[j]++] = i;
			}
		}
		free(fill);
	}
	queue = xcalloc(nr + 1, sizeof(*queue));
	for (size_t i = 0; i < nr; i++)
		if (!indeg[i])
			queue[tail++] = i;
	while (head < tail) {
		size_t j = queue[head++];

		for (size_t e = start[j]; e < start[j + 1]; e++)
			if (!--indeg[edges[e]])
				queue[tail++] = edges[e];
	}
	if (tail < nr) {
		struct buf cyc = BUF_INIT;
		size_t c = 0, walk, first;

		/* Walk unfinished dependencies until surely on the cycle. */
		while (!indeg[c])
			c++;
		for (size_t step = 0; step < nr; step++) {
			const struct bs_batch_task *t = &b->tasks[c];

			for (size_t d = 0; d < t->depend_on.nr; d++) {
				size_t j = (size_t)task_find(ix, nr,
							     t->depend_on.v[d]);

				if (indeg[j]) {
					c = j;
					break;
				}
			}
		}
		/* Name the cycle from its first task in the file. */
		walk = first = c;
		do {
			const struct bs_batch_task *t = &b->tasks[walk];

			for (size_t d = 0; d < t->depend_on.nr; d++) {
				size_t j = (size_t)task_find(ix, nr,
							     t->depend_on.v[d]);

				if (indeg[j]) {
					walk = j;
					break;
				}
			}
			if (walk < c)
				c = walk;
		} while (walk != first);
		walk = c;
		for (size_t n = 0; n < 8; n++) {
			const struct bs_batch_task *t = &b->tasks[walk];

			buf_addf(&cyc, "'%s' -> ",
				 yshow(t->identifier, strlen(t->identifier)).s);
			for (size_t d = 0; d < t->depend_on.nr; d++) {
				size_t j = (size_t)task_find(ix, nr,
							     t->depend_on.v[d]);

				if (indeg[j]) {
					walk = j;
					break;
				}
			}
			if (walk == c)
				break;
		}
		buf_addf(&cyc, "%s", walk == c ? "" : "... -> ");
		buf_addf(&cyc, "'%s'",
			 yshow(b->tasks[walk].identifier,
			       strlen(b->tasks[walk].identifier))
				 .s);
		ydoc_err(p->doc,
			 &(struct ynode){ .line = b->tasks[c].line,
					  .col = b->tasks[c].col },
			 p->e, "dependency cycle in '%s' involving '%s': %s",
			 path,
			 yshow(b->tasks[c].identifier,
			       strlen(b->tasks[c].identifier))
				 .s,
			 buf_cstr(&cyc));
		buf_release(&cyc);
		goto out;
	}
	ret = 0;
out:
	free(ix);
	free(indeg);
	free(start);
	free(edges);
	free(queue);
	return ret;
}

static int parse_tasks(struct bsp *p, const struct ynode *n, const char *path,
		       bool graph)
{
	struct bs_batch *b = &p->bs->batch;
	const struct ynode **deps;
	int ret = -1;

	if (ynode_is_null(n) || n->type != YNODE_SEQ)
		return bad(p, n, "'%s' must be a sequence of tasks", path);
	if (!n->nr)
		return bad(p, n, "'%s' must not be empty", path);
	deps = xcalloc(n->nr, sizeof(*deps));
	for (size_t i = 0; i < n->nr; i++) {
		struct bs_batch_task *t;

		ALLOC_GROW(b->tasks, b->nr_tasks + 1, b->alloc_tasks);
		t = &b->tasks[b->nr_tasks++];
		memset(t, 0, sizeof(*t));
		if (parse_task(p, n->items[i], path, graph, t, &deps[i]) < 0)
			goto out;
	}
	ret = check_tasks(p, path, deps);
out:
	free(deps);
	return ret;
}

static int parse_matrix_dynamic(struct bsp *p, const struct ynode *n)
{
	struct bs_batch *b = &p->bs->batch;
	const char *path = "batch.build-matrix.dynamic";
	char sub[256];

	if (want_map(p, n, path) < 0)
		return -1;
	if (ynode_is_null(n))
		return 0;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];

		subpath(sub, sizeof(sub), path, k);
		if (ykey_is(k, "buildspec")) {
			if (get_list(p, v, sub, &b->matrix_buildspecs) < 0)
				return -1;
			continue;
		}
		if (!ykey_is(k, "env")) {
			unknown_key(p, k, KEYS("buildspec", "env"));
			continue;
		}
		if (want_map(p, v, sub) < 0)
			return -1;
		for (size_t j = 0; v && j < v->nr; j++) {
			const struct ynode *ek = v->keys[j], *ev = v->items[j];
			char esub[300];
			int rc = 0;

			subpath(esub, sizeof(esub), sub, ek);
			if (ykey_is(ek, "compute-type")) {
				rc = get_list(p, ev, esub,
					      &b->matrix_compute_types);
			} else if (ykey_is(ek, "image")) {
				rc = get_list(p, ev, esub, &b->matrix_images);
			} else if (ykey_is(ek, "variables")) {
				if (want_map(p, ev, esub) < 0)
					return -1;
				for (size_t m = 0; ev && m < ev->nr; m++) {
					const struct ynode *vk = ev->keys[m];
					struct bs_matrix_var *mv;

					if (check_var_name(p, vk, esub) < 0)
						return -1;
					ALLOC_GROW(b->matrix_vars,
						   b->nr_matrix_vars + 1,
						   b->alloc_matrix_vars);
					mv = &b->matrix_vars
						      [b->nr_matrix_vars++];
					memset(mv, 0, sizeof(*mv));
					mv->name = xstrdup(vk->value);
					if (get_list(p, ev->items[m], esub,
						     &mv->values) < 0)
						return -1;
					if (!mv->values.nr)
						return bad(
							p,
							ynode_at(ev->items[m],
								 vk),
							"'%s.%s' must not "
							"be empty",
							esub, yshown(vk).s);
				}
			} else {
				unknown_key(p, ek,
					    KEYS("compute-type", "image",
						 "variables"));
			}
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

size_t buildspec_matrix_count(const struct bs_batch *b)
{
	size_t n = 1;
	size_t dims[3] = { b->matrix_buildspecs.nr, b->matrix_images.nr,
			   b->matrix_compute_types.nr };

	for (size_t i = 0; i < 3; i++)
		if (dims[i]) {
			if (n > SIZE_MAX / dims[i])
				return SIZE_MAX;
			n *= dims[i];
		}
	for (size_t i = 0; i < b->nr_matrix_vars; i++) {
		size_t k = b->matrix_vars[i].values.nr;

		if (k && n > SIZE_MAX / k)
			return SIZE_MAX;
		if (k)
			n *= k;
	}
	return n;
}

static int parse_matrix(struct bsp *p, const struct ynode *n)
{
	size_t count;

	struct bs_batch *b = &p->bs->batch;
	const char *path = "batch.build-matrix";

	if (ynode_is_null(n) || n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping", path);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];

		if (ykey_is(k, "dynamic")) {
			if (parse_matrix_dynamic(p, v) < 0)
				return -1;
			continue;
		}
		if (!ykey_is(k, "static")) {
			unknown_key(p, k, KEYS("static", "dynamic"));
			continue;
		}
		if (want_map(p, v, "batch.build-matrix.static") < 0)
			return -1;
		for (size_t j = 0; v && j < v->nr; j++) {
			const struct ynode *sk = v->keys[j];
			int rc = 0;

			if (ykey_is(sk, "ignore-failure"))
				rc = get_bool(p, v->items[j],
					      "batch.build-matrix.static."
					      "ignore-failure",
					      &b->matrix_ignore_failure);
			else if (ykey_is(sk, "env"))
				rc = parse_batch_env(
					p, v->items[j],
					"batch.build-matrix.static.env",
					&b->matrix_static);
			else
				unknown_key(p, sk,
					    KEYS("ignore-failure", "env"));
			if (rc < 0)
				return -1;
		}
	}
	count = buildspec_matrix_count(b);
	if (count == SIZE_MAX)
		return bad(p, n, "'%s' expands to more than %d builds", path,
			   BS_BATCH_MAX_BUILDS);
	if (count > BS_BATCH_MAX_BUILDS)
		return bad(p, n, "'%s' expands to %zu builds, more than %d",
			   path, count, BS_BATCH_MAX_BUILDS);
	return 0;
}

static int parse_fanout(struct bsp *p, const struct ynode *n)
{
	struct bs_batch *b = &p->bs->batch;
	const char *path = "batch.build-fanout";
	const struct ynode *par = NULL;

	if (ynode_is_null(n) || n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping", path);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];

		if (ykey_is(k, "parallelism")) {
			char *end;
			long val;

			par = ynode_at(v, k);
			if (!v || v->type != YNODE_SCALAR || ynode_has_nul(v) ||
			    v->value[0] < '0' || v->value[0] > '9')
				return bad(p, par,
					   "'%s.parallelism' must be an "
					   "integer >= 1",
					   path);
			val = strtol(v->value, &end, 10);
			if (*end || val < 1 || val > BS_BATCH_MAX_BUILDS)
				return bad(p, v,
					   "'%s.parallelism' must be an "
					   "integer from 1 to %d, not '%s'",
					   path, BS_BATCH_MAX_BUILDS,
					   yshown(v).s);
			b->parallelism = (int)val;
		} else if (ykey_is(k, "ignore-failure")) {
			if (get_bool(p, v, "batch.build-fanout.ignore-failure",
				     &b->fanout_ignore_failure) < 0)
				return -1;
		} else {
			unknown_key(p, k,
				    KEYS("parallelism", "ignore-failure"));
		}
	}
	if (!par)
		return bad(p, n, "'%s.parallelism' is required", path);
	return 0;
}

static int parse_batch(struct bsp *p, const struct ynode *n)
{
	struct bs_batch *b = &p->bs->batch;

	if (ynode_is_null(n) || n->type != YNODE_MAP)
		return bad(p, n, "'batch' must be a mapping");
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		enum bs_batch_type type = BS_BATCH_NONE;
		int rc = 0;

		if (ykey_is(k, "fast-fail")) {
			if (get_bool(p, v, "batch.fast-fail", &b->fast_fail) <
			    0)
				return -1;
			continue;
		}
		if (ykey_is(k, "build-list"))
			type = BS_BATCH_LIST;
		else if (ykey_is(k, "build-graph"))
			type = BS_BATCH_GRAPH;
		else if (ykey_is(k, "build-matrix"))
			type = BS_BATCH_MATRIX;
		else if (ykey_is(k, "build-fanout"))
			type = BS_BATCH_FANOUT;
		if (type == BS_BATCH_NONE) {
			unknown_key(p, k,
				    KEYS("fast-fail", "build-list",
					 "build-graph", "build-matrix",
					 "build-fanout"));
			continue;
		}
		if (b->type != BS_BATCH_NONE)
			return bad(p, k,
				   "only one batch type is allowed ('%s' "
				   "after another batch type)",
				   yshown(k).s);
		b->type = type;
		switch (type) {
		case BS_BATCH_LIST:
			rc = parse_tasks(p, ynode_at(v, k), "batch.build-list",
					 false);
			break;
		case BS_BATCH_GRAPH:
			rc = parse_tasks(p, ynode_at(v, k), "batch.build-graph",
					 true);
			break;
		case BS_BATCH_MATRIX:
			rc = parse_matrix(p, ynode_at(v, k));
			break;
		default:
			rc = parse_fanout(p, ynode_at(v, k));
			break;
		}
		if (rc < 0)
			return -1;
	}
	if (b->type == BS_BATCH_NONE)
		return bad(p, n,
			   "'batch' needs one of build-list, build-graph, "
			   "build-matrix or build-fanout");
	return 0;
}

static int parse_version(struct bsp *p, const struct ynode *root)
{
	const struct ynode *v = ynode_map_get(root, "version");
	struct buildspec *bs = p->bs;

	if (!v || ynode_is_null(v)) {
		const struct ynode *k = root;

		for (size_t i = 0; i < root->nr; i++)
			if (ykey_is(root->keys[i], "version"))
				k = root->keys[i];
		return bad(p, k, "'version' is required (0.1 or 0.2)");
	}
	if (v->type != YNODE_SCALAR)
		return bad(p, v, "'version' must be a scalar, not a %s",
			   ynode_kind(v));
	if (!strcmp(v->value, "0.2") && v->len == 3)
		bs->minor = 2;
	else if (!strcmp(v->value, "0.1") && v->len == 3)
		bs->minor = 1;
	else
		return bad(p, v,
			   "unsupported buildspec version '%s' (expected 0.1 "
			   "or 0.2)",
			   yshown(v).s);
	bs->version = xstrdup(v->value);
	return 0;
}

static int parse_root(struct bsp *p, const struct ynode *root)
{
	struct buildspec *bs = p->bs;
	const struct ynode *phases = NULL, *batch = NULL;

	if (!root)
		return bad(p, NULL, "buildspec is empty");
	if (root->type != YNODE_MAP)
		return bad(p, root, "buildspec must be a mapping, not a %s",
			   ynode_kind(root));
	if (parse_version(p, root) < 0)
		return -1;
	for (size_t i = 0; i < root->nr; i++) {
		const struct ynode *k = root->keys[i], *v = root->items[i];
		int rc = 0;

		if (ykey_is(k, "version") || ykey_is(k, "proxy")) {
			/* version read above; proxy settings do not apply */
		} else if (ykey_is(k, "run-as")) {
			rc = get_str(p, v, "run-as", &bs->run_as);
		} else if (ykey_is(k, "env") && bs->minor == 2) {
			rc = parse_env(p, v);
		} else if (ykey_is(k, "environment_variables") &&
			   bs->minor == 1) {
			rc = parse_env_v01(p, v);
		} else if (ykey_is(k, "env")) {
			warnf(p, k,
			      "unknown key 'env' ignored (version 0.1 uses "
			      "'environment_variables')");
			unknown_last(p);
		} else if (ykey_is(k, "environment_variables")) {
			warnf(p, k,
			      "unknown key 'environment_variables' ignored "
			      "(version 0.2 uses 'env')");
			unknown_last(p);
		} else if (ykey_is(k, "phases")) {
			phases = ynode_at(v, k);
			rc = parse_phases(p, v);
		} else if (ykey_is(k, "batch")) {
			batch = ynode_at(v, k);
			rc = parse_batch(p, ynode_at(v, k));
		} else if (ykey_is(k, "artifacts")) {
			if (!ynode_is_null(v)) {
				bs->has_artifacts = true;
				rc = parse_artifact(p, v, "artifacts",
						    &bs->artifacts, true);
			}
		} else if (ykey_is(k, "reports")) {
			rc = parse_reports(p, v);
		} else if (ykey_is(k, "cache")) {
			rc = parse_cache(p, v);
		} else {
			unknown_key(p, k,
				    KEYS("version", "run-as", "env", "phases",
					 "batch", "artifacts", "reports",
					 "cache"));
		}
		if (rc < 0)
			return -1;
	}
	/* CodeBuild runs a buildspec without phases (every phase succeeds
	 * with no commands, then artifacts are uploaded): release
	 * pipelines that only package what an earlier action built use
	 * one. */
	if (!batch && !phases)
		strictf(p, root, "no 'phases': the build runs no commands");
	else if (!batch && ynode_is_null(ynode_map_get(root, "phases")))
		strictf(p, phases,
			"'phases' is empty: the build runs no "
			"commands");
	return 0;
}

static int parse_doc(const char *name, const struct ydoc *doc,
		     struct buildspec *bs, struct sw_err *e)
{
	struct bsp p = { .doc = doc, .bs = bs, .e = e };

	bs->file = xstrdup(name);
	strvec_init(&bs->warnings);
	strvec_init(&bs->strict_warnings);
	strvec_init(&bs->unknown_keys);
	for (int i = 0; i < BS_NPHASES; i++) {
		strvec_init(&bs->phases[i].commands);
		strvec_init(&bs->phases[i].finally);
	}
	strvec_init(&bs->exported_variables);
	strvec_init(&bs->artifacts.files);
	strvec_init(&bs->artifacts.exclude_paths);
	strvec_init(&bs->cache.fallback_keys);
	strvec_init(&bs->cache.paths);
	if (parse_root(&p, doc->root) < 0) {
		buildspec_release(bs);
		return -1;
	}
	return 0;
}

int buildspec_parse(const char *name, const char *data, size_t len,
		    struct buildspec *bs, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	memset(bs, 0, sizeof(*bs));
	if (ydoc_load(name, data, len, &doc, e) < 0)
		return -1;
	ret = parse_doc(name, &doc, bs, e);
	ydoc_release(&doc);
	return ret;
}

int buildspec_load(const char *path, struct buildspec *bs, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	memset(bs, 0, sizeof(*bs));
	if (ydoc_load_file(path, &doc, e) < 0)
		return -1;
	ret = parse_doc(path, &doc, bs, e);
	ydoc_release(&doc);
	return ret;
}

static void kvlist_release(struct bs_kvlist *l)
{
	for (size_t i = 0; i < l->nr; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void artifact_release(struct bs_artifact *a)
{
	free(a->identifier);
	strvec_release(&a->files);
	free(a->name);
	free(a->base_directory);
	strvec_release(&a->exclude_paths);
	free(a->s3_prefix);
}

static void batch_env_release(struct bs_batch_env *env)
{
	free(env->compute_type);
	free(env->fleet);
	free(env->image);
	free(env->type);
	kvlist_release(&env->variables);
}

static void batch_release(struct bs_batch *b)
{
	for (size_t i = 0; i < b->nr_tasks; i++) {
		struct bs_batch_task *t = &b->tasks[i];

		free(t->identifier);
		free(t->buildspec);
		strvec_release(&t->depend_on);
		batch_env_release(&t->env);
	}
	free(b->tasks);
	batch_env_release(&b->matrix_static);
	strvec_release(&b->matrix_buildspecs);
	strvec_release(&b->matrix_compute_types);
	strvec_release(&b->matrix_images);
	for (size_t i = 0; i < b->nr_matrix_vars; i++) {
		free(b->matrix_vars[i].name);
		strvec_release(&b->matrix_vars[i].values);
	}
	free(b->matrix_vars);
}

void buildspec_release(struct buildspec *bs)
{
	if (!bs)
		return;
	free(bs->file);
	free(bs->version);
	free(bs->run_as);
	free(bs->shell);
	kvlist_release(&bs->variables);
	kvlist_release(&bs->parameter_store);
	kvlist_release(&bs->secrets_manager);
	strvec_release(&bs->exported_variables);
	for (int i = 0; i < BS_NPHASES; i++) {
		struct bs_phase *ph = &bs->phases[i];

		free(ph->run_as);
		free(ph->retry_regex);
		kvlist_release(&ph->runtime_versions);
		strvec_release(&ph->commands);
		strvec_release(&ph->finally);
		free(ph->command_lines);
		free(ph->finally_lines);
	}
	artifact_release(&bs->artifacts);
	for (size_t i = 0; i < bs->nr_secondary; i++)
		artifact_release(&bs->secondary[i]);
	free(bs->secondary);
	for (size_t i = 0; i < bs->nr_reports; i++) {
		struct bs_report_group *r = &bs->reports[i];

		free(r->name);
		strvec_release(&r->files);
		free(r->base_directory);
		free(r->file_format);
	}
	free(bs->reports);
	free(bs->cache.key);
	strvec_release(&bs->cache.fallback_keys);
	free(bs->cache.action);
	strvec_release(&bs->cache.paths);
	batch_release(&bs->batch);
	strvec_release(&bs->warnings);
	strvec_release(&bs->strict_warnings);
	strvec_release(&bs->unknown_keys);
	memset(bs, 0, sizeof(*bs));
}
