/*
 * pipeline: parse and validate a pipeline file; see pipeline.h and
 * docs/pipeline.md. The declaration is read first (its own rules), then
 * the slipway section, then what joins them: stage 1 holds the sources,
 * artifacts and variables flow from earlier actions only, and every
 * source, project and deployment group an action names is bound.
 */
#include "pipeline.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "suggest.h"
#include "group.h"
#include "secrets.h"
#include "vars.h"
#include "xalloc.h"
#include "yaml.h"
#include "banned.h"

/* The parse in progress. */
struct pp {
	const struct ydoc *doc;
	struct pipeline *pl;
	struct sw_err *e;
	const struct ynode *stages; /* the declaration's 'stages' */
	bool v1; /* pipelineType: V1 */
	const struct ynode *mode_node;
	/* AWS-only keys seen, for the one note */
	struct strvec aws_keys;
	const struct ynode *aws_first;
};

#define bad(p, n, ...) ydoc_err((p)->doc, (n), (p)->e, __VA_ARGS__)
#define warnf(p, n, ...) ywarn((p)->doc, (n), &(p)->pl->warnings, __VA_ARGS__)

/* ---- providers ---- */

#define CAT(c) (1u << (c))

struct provider_info {
	const char *name;
	enum pl_provider id;
	const char *owner;
	unsigned categories; /* CAT() bits */
	int in_min, in_max, out_min, out_max;
	const char *const *required;
	const char *const *known; /* optional keys */
	/* output variables: NULL any key (known only at run time) */
	const char *const *vars;
};

static const char *const no_keys[] = { NULL };
static const char *const cc_req[] = { "RepositoryName", "BranchName", NULL };
static const char *const cc_opt[] = { "PollForSourceChanges",
				      "OutputArtifactFormat", NULL };
static const char *const cc_vars[] = {
	"CommitId",   "CommitMessage", "RepositoryName",
	"BranchName", "AuthorDate",    "CommitterDate",
	NULL
};
static const char *const cs_req[] = { "FullRepositoryId", "BranchName", NULL };
static const char *const cs_opt[] = { "ConnectionArn", "OutputArtifactFormat",
				      "DetectChanges", NULL };
static const char *const cs_vars[] = { "AuthorDate",
				       "BranchName",
				       "CommitId",
				       "CommitMessage",
				       "ConnectionArn",
				       "FullRepositoryName",
				       "SourceBranchName",
				       "DestinationBranchName",
				       "PullRequestId",
				       "PullRequestTitle",
				       NULL };
static const char *const gh_req[] = { "Owner", "Repo", "Branch", NULL };
static const char *const gh_opt[] = { "OAuthToken", "PollForSourceChanges",
				      NULL };
static const char *const gh_vars[] = { "AuthorDate",	 "BranchName",
				       "CommitId",	 "CommitMessage",
				       "CommitterDate",	 "CommitUrl",
				       "RepositoryName", NULL };
static const char *const s3_req[] = { "S3Bucket", "S3ObjectKey", NULL };
static const char *const s3_opt[] = { "PollForSourceChanges", NULL };
static const char *const s3_vars[] = { "ETag", "VersionId", NULL };
static const char *const cb_req[] = { "ProjectName", NULL };
static const char *const cb_opt[] = { "PrimarySource", "BatchEnabled",
				      "CombineArtifacts",
				      "EnvironmentVariables", NULL };
static const char *const cd_req[] = { "ApplicationName", "DeploymentGroupName",
				      NULL };
static const char *const man_opt[] = { "NotificationArn", "ExternalEntityLink",
				       "CustomData", NULL };
static const char *const cmd_req[] = { "Command", NULL };

static const struct provider_info providers[] = {
	{ "CodeCommit", PL_CODECOMMIT, "AWS", CAT(PL_SOURCE), 0, 0, 1, 1,
	  cc_req, cc_opt, cc_vars },
	{ "CodeStarSourceConnection", PL_CODESTAR, "AWS", CAT(PL_SOURCE), 0, 0,
	  1, 1, cs_req, cs_opt, cs_vars },
	{ "GitHub", PL_GITHUB, "ThirdParty", CAT(PL_SOURCE), 0, 0, 1, 1, gh_req,
	  gh_opt, gh_vars },
	{ "S3", PL_S3, "AWS", CAT(PL_SOURCE), 0, 0, 1, 1, s3_req, s3_opt,
	  s3_vars },
	{ "CodeBuild", PL_CODEBUILD, "AWS", CAT(PL_BUILD) | CAT(PL_TEST), 1, 5,
	  0, 5, cb_req, cb_opt, NULL },
	{ "CodeDeploy", PL_CODEDEPLOY, "AWS", CAT(PL_DEPLOY), 1, 1, 0, 0,
	  cd_req, no_keys, no_keys },
	{ "Manual", PL_MANUAL, "AWS", CAT(PL_APPROVAL), 0, 0, 0, 0, no_keys,
	  man_opt, no_keys },
	{ "Commands", PL_COMMANDS, "AWS", CAT(PL_COMPUTE), 1, 10, 0, 1, no_keys,
	  no_keys, no_keys /* its outputVariables */ },
	{ "Command", PL_COMMAND, "Custom", CAT(PL_INVOKE), 0, 5, 0, 5, cmd_req,
	  no_keys, NULL },
};

static const char *const category_names[] = { "Source", "Build",    "Test",
					      "Deploy", "Approval", "Invoke",
					      "Compute" };
static const char *const mode_names[] = { "SUPERSEDED", "QUEUED", "PARALLEL" };
static const char *const on_failure_names[] = { "FAIL", "RETRY", "ROLLBACK",
						"SKIP" };
static const char *const supported_list =
	"Source/AWS/CodeCommit, Source/AWS/CodeStarSourceConnection, "
	"Source/ThirdParty/GitHub, Source/AWS/S3, Build/AWS/CodeBuild, "
	"Test/AWS/CodeBuild, Deploy/AWS/CodeDeploy, Approval/AWS/Manual, "
	"Compute/AWS/Commands, Invoke/Custom/Command";

const char *pl_category_name(enum pl_category c)
{
	return category_names[c];
}

const char *pl_mode_name(enum pl_mode m)
{
	return mode_names[m];
}

const char *pl_on_failure_name(enum pl_on_failure f)
{
	return on_failure_names[f];
}

static const struct provider_info *info_of(enum pl_provider id)
{
	for (size_t i = 0; i < ARRAY_SIZE(providers); i++)
		if (providers[i].id == id)
			return &providers[i];
	BUG("unknown provider %d", (int)id);
	return NULL;
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* ---- scalars ---- */

/* The key node of name in mapping m, or NULL. */
static const struct ynode *key_of(const struct ynode *m, const char *name)
{
	if (!m || m->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < m->nr; i++)
		if (ykey_is(m->keys[i], name))
			return m->keys[i];
	return NULL;
}

/* Where to point for a missing or empty value: the value, its key, or the
 * mapping. */
static const struct ynode *where(const struct ynode *m, const char *name)
{
	const struct ynode *v = ynode_map_get(m, name);

	if (v && !(ynode_is_null(v) && !v->len))
		return v;
	v = key_of(m, name);
	return v ? v : m;
}

static bool has_ctrl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* Every byte of s is alphanumeric or in extra. */
static bool charset_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

/* A string scalar, set, or NULL for a null value (quoted "" is ""). */
static int get_str(struct pp *p, const struct ynode *n, const char *path,
		   char **out)
{
	free(*out);
	*out = NULL;
	if (!n || (ynode_is_null(n) && n->plain))
		return 0;
	if (n->type != YNODE_SCALAR)
		return bad(p, n, "'%s' must be a string, not a %s", path,
			   ynode_kind(n));
	if (ynode_has_nul(n))
		return bad(p, n, "'%s' must not contain a NUL character", path);
	*out = xstrdup(n->value);
	return 0;
}

/* A required name of 1 to max characters of [A-Za-z0-9] and extra. */
static int get_name(struct pp *p, const struct ynode *m, const char *key,
		    const char *path, const char *extra, size_t max, char **out)
{
	const struct ynode *v = ynode_map_get(m, key);

	if (get_str(p, v, path, out) < 0)
		return -1;
	if (!*out || !**out)
		return bad(p, where(m, key), "'%s' is required", path);
	if (strlen(*out) > max || !charset_ok(*out, extra))
		return bad(p, v,
			   "invalid '%s' (%s): 1 to %zu characters of "
			   "A-Z a-z 0-9 %s",
			   path, yshown(v).s, max, extra);
	return 0;
}

/* A plain integer scalar in [min, max]; *out untouched when absent. */
static int get_int(struct pp *p, const struct ynode *n, const char *path,
		   long min, long max, int *out)
{
	char *end;
	long v;

	if (!n || ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR || !n->len || n->len > 9 ||
	    strspn(n->value, "0123456789") != n->len)
		return bad(p, n,
			   "'%s' must be an integer from %ld to %ld, not "
			   "'%s'",
			   path, min, max,
			   n->type == YNODE_SCALAR ? yshown(n).s
						   : ynode_kind(n));
	v = strtol(n->value, &end, 10);
	if (v < min || v > max)
		return bad(p, n,
			   "'%s' must be an integer from %ld to %ld, not "
			   "'%s'",
			   path, min, max, yshown(n).s);
	*out = (int)v;
	return 0;
}

/* One of names (n of them) or -1 with the error set. */
static int get_enum(struct pp *p, const struct ynode *n, const char *path,
		    const char *const *names, size_t nr)
{
	char list[256] = "";

	if (n && n->type == YNODE_SCALAR)
		for (size_t i = 0; i < nr; i++)
			if (!strcmp(n->value, names[i]))
				return (int)i;
	for (size_t i = 0; i < nr; i++) {
		strncat(list, names[i], sizeof(list) - strlen(list) - 1);
		if (i + 1 < nr)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	return bad(p, n, "invalid '%s' (%s): one of %s", path,
		   n && n->type == YNODE_SCALAR ? yshown(n).s : ynode_kind(n),
		   list);
}

static int need_map(struct pp *p, const struct ynode *n, const char *path)
{
	if (!n || n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping, not a %s", path,
			   n ? ynode_kind(n) : "null");
	return 0;
}

/* A sequence, or null (none): 0; anything else an error. */
static int need_seq(struct pp *p, const struct ynode *n, const char *path)
{
	if (n && !ynode_is_null(n) && n->type != YNODE_SEQ)
		return bad(p, n, "'%s' must be a sequence, not a %s", path,
			   ynode_kind(n));
	return 0;
}

static size_t seq_len(const struct ynode *n)
{
	return n && n->type == YNODE_SEQ ? n->nr : 0;
}

/* The number of words in a NULL-ended list (NULL: none). */
static size_t list_len(const char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

/* Warn about unknown key k in path, naming the closest of known and of
 * more (NULL-ended lists, either may be NULL) when one is close. */
static void unknown_in(struct pp *p, const struct ynode *k, const char *path,
		       const char *const *known, const char *const *more)
{
	const char *s = NULL;

	if (k->type == YNODE_SCALAR) {
		s = suggest_closest(k->value, k->len, known, list_len(known));
		if (!s)
			s = suggest_closest(k->value, k->len, more,
					    list_len(more));
	}
	if (s)
		warnf(p, k,
		      "unknown key '%s'%s%s%s ignored (did you mean '%s'?)",
		      yshown(k).s, path ? " in '" : "", path ? path : "",
		      path ? "'" : "", s);
	else
		warnf(p, k, "unknown key '%s'%s%s%s ignored", yshown(k).s,
		      path ? " in '" : "", path ? path : "", path ? "'" : "");
	strvec_push(&p->pl->unknown_keys,
		    p->pl->warnings.v[p->pl->warnings.nr - 1]);
}

/* The same for a provider's configuration key. */
static void unknown_config(struct pp *p, const struct ynode *k,
			   const char *provider, const char *const *required,
			   const char *const *known)
{
	const char *s;

	s = suggest_closest(k->value, k->len, required, list_len(required));
	if (!s)
		s = suggest_closest(k->value, k->len, known, list_len(known));
	if (s)
		warnf(p, k,
		      "unknown configuration key '%s' of provider '%s' "
		      "ignored (did you mean '%s'?)",
		      yshown(k).s, provider, s);
	else
		warnf(p, k,
		      "unknown configuration key '%s' of provider '%s' "
		      "ignored",
		      yshown(k).s, provider);
	strvec_push(&p->pl->unknown_keys,
		    p->pl->warnings.v[p->pl->warnings.nr - 1]);
}

/*
 * Check the keys of mapping m: known ones pass, AWS-only ones are
 * remembered for the note, others are warnings.
 */
static void check_keys(struct pp *p, const struct ynode *m, const char *path,
		       const char *const *known, const char *const *aws)
{
	for (size_t i = 0; m && m->type == YNODE_MAP && i < m->nr; i++) {
		const struct ynode *k = m->keys[i];

		if (k->type == YNODE_SCALAR && in_list(known, k->value))
			continue;
		if (aws && k->type == YNODE_SCALAR && in_list(aws, k->value)) {
			if (!p->aws_first)
				p->aws_first = k;
			if (strvec_find(&p->aws_keys, k->value) < 0)
				strvec_push(&p->aws_keys, k->value);
			continue;
		}
		unknown_in(p, k, path, known, NULL);
	}
}

/* A list of strings: each 1 to max characters; count min to cap. */
static int get_strings(struct pp *p, const struct ynode *n, const char *path,
		       size_t min, size_t cap, size_t max, struct strvec *out)
{
	if (need_seq(p, n, path) < 0)
		return -1;
	if (seq_len(n) < min || seq_len(n) > cap)
		return bad(p, n, "'%s' must hold %zu to %zu entries, not %zu",
			   path, min, cap, seq_len(n));
	for (size_t i = 0; i < seq_len(n); i++) {
		const struct ynode *it = n->items[i];
		char *s = NULL;

		if (get_str(p, it, path, &s) < 0)
			return -1;
		if (!s || !*s || strlen(s) > max) {
			free(s);
			return bad(p, it,
				   "'%s[%zu]' must be a string of 1 to %zu "
				   "characters",
				   path, i, max);
		}
		strvec_push_nodup(out, s);
	}
	return 0;
}

static const struct ynode *action_node(struct pp *p, size_t s, size_t a)
{
	return ynode_map_get(p->stages->items[s], "actions")->items[a];
}

static const struct ynode *config_value_node(struct pp *p, size_t s, size_t a,
					     const char *key)
{
	const struct ynode *an = action_node(p, s, a);
	const struct ynode *c = ynode_map_get(an, "configuration");
	const struct ynode *v = ynode_map_get(c, key);

	return v ? v : (c ? c : an);
}

/* ---- actions ---- */

static int parse_type(struct pp *p, const struct ynode *an, const char *path,
		      struct pl_action *a)
{
	static const char *const keys[] = { "category", "owner", "provider",
					    "version", NULL };
	static const char *const owners[] = { "AWS", "ThirdParty", "Custom" };
	const struct ynode *t = ynode_map_get(an, "actionTypeId");
	const struct provider_info *info = NULL;
	char sub[300];
	int cat;

	snprintf(sub, sizeof(sub), "%s.actionTypeId", path);
	if (!t)
		return bad(p, an, "'%s' is required", sub);
	if (need_map(p, t, sub) < 0)
		return -1;
	check_keys(p, t, sub, keys, NULL);
	snprintf(sub, sizeof(sub), "%s.actionTypeId.category", path);
	if (!ynode_map_get(t, "category"))
		return bad(p, t, "'%s' is required", sub);
	cat = get_enum(p, ynode_map_get(t, "category"), sub, category_names,
		       ARRAY_SIZE(category_names));
	if (cat < 0)
		return -1;
	a->category = (enum pl_category)cat;
	snprintf(sub, sizeof(sub), "%s.actionTypeId.owner", path);
	if (!ynode_map_get(t, "owner"))
		return bad(p, t, "'%s' is required", sub);
	if (get_enum(p, ynode_map_get(t, "owner"), sub, owners,
		     ARRAY_SIZE(owners)) < 0)
		return -1;
	if (get_str(p, ynode_map_get(t, "owner"), sub, &a->owner) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.actionTypeId.provider", path);
	if (get_name(p, t, "provider", sub, "_-", 35, &a->provider_name) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.actionTypeId.version", path);
	if (get_name(p, t, "version", sub, "_-", 9, &a->version) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(providers); i++)
		if (!strcmp(providers[i].name, a->provider_name))
			info = &providers[i];
	if (!info)
		return bad(p, ynode_map_get(t, "provider"),
			   "unsupported provider '%s': supported are %s",
			   a->provider_name, supported_list);
	if (!(info->categories & CAT(a->category)))
		return bad(p, ynode_map_get(t, "category"),
			   "provider '%s' is not in category '%s': supported "
			   "are %s",
			   info->name, category_names[a->category],
			   supported_list);
	if (strcmp(info->owner, a->owner))
		return bad(p, ynode_map_get(t, "owner"),
			   "provider '%s' has owner '%s', not '%s'", info->name,
			   info->owner, a->owner);
	if (strcmp(a->version, "1"))
		return bad(p, ynode_map_get(t, "version"),
			   "version '%s' of provider '%s' is not supported: "
			   "only '1'",
			   a->version, info->name);
	a->provider = info->id;
	return 0;
}

static int parse_config(struct pp *p, const struct ynode *an, const char *path,
			struct pl_action *a)
{
	const struct ynode *c = ynode_map_get(an, "configuration");
	const struct provider_info *info = info_of(a->provider);
	char sub[300];

	snprintf(sub, sizeof(sub), "%s.configuration", path);
	if (c && !ynode_is_null(c) && need_map(p, c, sub) < 0)
		return -1;
	if (c && c->type == YNODE_MAP) {
		a->config = xcalloc(c->nr ? c->nr : 1, sizeof(*a->config));
		for (size_t i = 0; i < c->nr; i++) {
			const struct ynode *k = c->keys[i], *v = c->items[i];
			struct pl_kv *kv = &a->config[a->nr_config];

			if (k->type != YNODE_SCALAR || !k->len ||
			    k->len > PL_MAX_CONFIG_KEY ||
			    has_ctrl(k->value, k->len))
				return bad(p, k,
					   "invalid key in '%s.configuration': "
					   "1 to %d characters",
					   path, PL_MAX_CONFIG_KEY);
			snprintf(sub, sizeof(sub), "%s.configuration.%s", path,
				 yshown(k).s);
			if (v->type != YNODE_SCALAR)
				return bad(p, v,
					   "'%s' must be a string, not a %s",
					   sub, ynode_kind(v));
			if (ynode_has_nul(v))
				return bad(p, v,
					   "'%s' must not contain a NUL "
					   "character",
					   sub);
			if (!v->len || v->len > PL_MAX_CONFIG_VALUE)
				return bad(p, ynode_at(v, k),
					   "'%s' must be 1 to %d characters",
					   sub, PL_MAX_CONFIG_VALUE);
			kv->key = xstrdup(k->value);
			kv->value = xstrdup(v->value);
			kv->line = v->line;
			kv->col = v->col;
			a->nr_config++;
			if (!in_list(info->required, k->value) &&
			    !in_list(info->known, k->value))
				unknown_config(p, k, info->name, info->required,
					       info->known);
		}
	}
	for (const char *const *r = info->required; *r; r++)
		if (!pl_action_config(a, *r)) {
			snprintf(sub, sizeof(sub), "%s.configuration", path);
			return bad(p, c ? c : an,
				   "'%s' of provider '%s' requires '%s'", sub,
				   info->name, *r);
		}
	return 0;
}

/* inputArtifacts / outputArtifacts: [{name: X}, ...]. */
static int parse_artifacts(struct pp *p, const struct ynode *an,
			   const char *path, const char *key,
			   struct pl_action *a)
{
	static const char *const in_keys[] = { "name", NULL };
	static const char *const out_keys[] = { "name", "files", NULL };
	const struct ynode *list = ynode_map_get(an, key);
	bool out = !strcmp(key, "outputArtifacts");
	char sub[300];

	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	if (need_seq(p, list, sub) < 0)
		return -1;
	if (!out)
		a->inputs = xcalloc(seq_len(list) + 1, sizeof(*a->inputs));
	for (size_t i = 0; i < seq_len(list); i++) {
		const struct ynode *it = list->items[i];
		char *name = NULL;

		snprintf(sub, sizeof(sub), "%s.%s[%zu]", path, key, i);
		if (need_map(p, it, sub) < 0)
			return -1;
		check_keys(p, it, sub, out ? out_keys : in_keys, NULL);
		snprintf(sub, sizeof(sub), "%s.%s[%zu].name", path, key, i);
		if (get_name(p, it, "name", sub, "_-", PL_MAX_NAME, &name) <
		    0) {
			free(name);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			const char *prev =
				out ? a->outputs.v[j] : a->inputs[j].name;

			if (!strcmp(prev, name)) {
				free(name);
				return bad(p, ynode_map_get(it, "name"),
					   "artifact '%s' is listed twice in "
					   "'%s.%s'",
					   prev, path, key);
			}
		}
		if (!out) {
			a->inputs[a->nr_inputs++].name = name;
			continue;
		}
		strvec_push_nodup(&a->outputs, name);
		if (ynode_map_get(it, "files")) {
			snprintf(sub, sizeof(sub), "%s.%s[%zu].files", path,
				 key, i);
			if (a->provider != PL_COMMANDS)
				return bad(p, key_of(it, "files"),
					   "'%s' is only for Commands actions",
					   sub);
			if (get_strings(p, ynode_map_get(it, "files"), sub, 1,
					10, 128, &a->files) < 0)
				return -1;
		}
	}
	return 0;
}

static int parse_commands_fields(struct pp *p, const struct ynode *an,
				 const char *path, struct pl_action *a)
{
	static const char *const env_keys[] = { "name", "value", "type", NULL };
	static const char *const env_types[] = { "PLAINTEXT",
						 "SECRETS_MANAGER" };
	static const char *const fields[] = { "commands", "outputVariables",
					      "environmentVariables" };
	const struct ynode *env = ynode_map_get(an, "environmentVariables");
	char sub[300];

	if (a->provider != PL_COMMANDS) {
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			if (key_of(an, fields[i]))
				return bad(p, key_of(an, fields[i]),
					   "'%s.%s' is only for Commands "
					   "actions",
					   path, fields[i]);
		return 0;
	}
	snprintf(sub, sizeof(sub), "%s.commands", path);
	if (!ynode_map_get(an, "commands"))
		return bad(p, an, "'%s' is required for a Commands action",
			   sub);
	if (get_strings(p, ynode_map_get(an, "commands"), sub, 1, 50, 1000,
			&a->commands) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.outputVariables", path);
	if (ynode_map_get(an, "outputVariables") &&
	    get_strings(p, ynode_map_get(an, "outputVariables"), sub, 1, 15,
			128, &a->output_variables) < 0)
		return -1;
	for (size_t i = 0; i < a->output_variables.nr; i++)
		if (!charset_ok(a->output_variables.v[i], "_"))
			return bad(
				p,
				ynode_map_get(an, "outputVariables")->items[i],
				"invalid '%s[%zu]' (%s): A-Z a-z 0-9 _", sub, i,
				a->output_variables.v[i]);
	snprintf(sub, sizeof(sub), "%s.environmentVariables", path);
	if (!env)
		return 0;
	if (need_seq(p, env, sub) < 0)
		return -1;
	if (seq_len(env) < 1 || seq_len(env) > 10)
		return bad(p, env, "'%s' must hold 1 to 10 entries, not %zu",
			   sub, seq_len(env));
	a->env = xcalloc(seq_len(env), sizeof(*a->env));
	for (size_t i = 0; i < seq_len(env); i++) {
		const struct ynode *it = env->items[i];
		struct pl_envvar *ev = &a->env[a->nr_env];
		char isub[340];
		int type = 0;

		snprintf(isub, sizeof(isub), "%s[%zu]", sub, i);
		if (need_map(p, it, isub) < 0)
			return -1;
		check_keys(p, it, isub, env_keys, NULL);
		a->nr_env++;
		snprintf(isub, sizeof(isub), "%s[%zu].name", sub, i);
		if (get_name(p, it, "name", isub, "_", 128, &ev->name) < 0)
			return -1;
		snprintf(isub, sizeof(isub), "%s[%zu].value", sub, i);
		if (get_str(p, ynode_map_get(it, "value"), isub, &ev->value) <
		    0)
			return -1;
		if (!ev->value || strlen(ev->value) > 2000)
			return bad(p, where(it, "value"),
				   "'%s' must be a string of 0 to 2000 "
				   "characters",
				   isub);
		snprintf(isub, sizeof(isub), "%s[%zu].type", sub, i);
		if (ynode_map_get(it, "type") &&
		    (type = get_enum(p, ynode_map_get(it, "type"), isub,
				     env_types, ARRAY_SIZE(env_types))) < 0)
			return -1;
		ev->secret = type == 1;
	}
	return 0;
}

/* "1", "0 to 5" into buf[32]. */
static const char *show_range(char *buf, int min, int max)
{
	if (min == max)
		snprintf(buf, 32, "%s%d", max ? "exactly " : "", min);
	else
		snprintf(buf, 32, "%d to %d", min, max);
	return buf;
}

/* The artifact counts a provider takes. */
static int check_counts(struct pp *p, const struct ynode *an, const char *path,
			struct pl_action *a)
{
	const struct provider_info *info = info_of(a->provider);
	const struct ynode *n;

	char range[32];

	if ((int)a->nr_inputs < info->in_min ||
	    (int)a->nr_inputs > info->in_max) {
		n = ynode_map_get(an, "inputArtifacts");
		return bad(p, n ? n : an,
			   "'%s' (%s) takes %s input artifacts, not %zu", path,
			   info->name,
			   show_range(range, info->in_min, info->in_max),
			   a->nr_inputs);
	}
	if ((int)a->outputs.nr < info->out_min ||
	    (int)a->outputs.nr > info->out_max) {
		n = ynode_map_get(an, "outputArtifacts");
		return bad(p, n ? n : an,
			   "'%s' (%s) takes %s output artifacts, not %zu", path,
			   info->name,
			   show_range(range, info->out_min, info->out_max),
			   a->outputs.nr);
	}
	return 0;
}

static int check_bool_key(struct pp *p, const struct ynode *an,
			  const struct pl_action *a, const char *key)
{
	const char *v = pl_action_config(a, key);

	if (v && strcmp(v, "true") && strcmp(v, "false"))
		return bad(
			p,
			ynode_map_get(ynode_map_get(an, "configuration"), key),
			"'%s' must be \"true\" or \"false\", not '%s'", key, v);
	return 0;
}

/* CodeBuild's configuration: PrimarySource, the batch switches and the
 * EnvironmentVariables JSON string. */
static int check_codebuild(struct pp *p, const struct ynode *an,
			   const char *path, struct pl_action *a)
{
	const struct ynode *c = ynode_map_get(an, "configuration");
	const char *prim = pl_action_config(a, "PrimarySource");
	const char *env = pl_action_config(a, "EnvironmentVariables");
	const char *combine = pl_action_config(a, "CombineArtifacts");
	const char *batch = pl_action_config(a, "BatchEnabled");
	struct json_tokener *tok;
	json_object *j;
	bool found = false;
	int ret = 0;

	if (check_bool_key(p, an, a, "BatchEnabled") < 0 ||
	    check_bool_key(p, an, a, "CombineArtifacts") < 0)
		return -1;
	if (combine && !strcmp(combine, "true") &&
	    !(batch && !strcmp(batch, "true")))
		return bad(p, ynode_map_get(c, "CombineArtifacts"),
			   "'CombineArtifacts' needs 'BatchEnabled' \"true\"");
	if (!prim && a->nr_inputs > 1)
		return bad(p, c ? c : an,
			   "'%s.configuration' requires 'PrimarySource' with "
			   "more than one input artifact",
			   path);
	for (size_t i = 0; prim && i < a->nr_inputs; i++)
		found |= !strcmp(a->inputs[i].name, prim);
	if (prim && !found)
		return bad(p, ynode_map_get(c, "PrimarySource"),
			   "'PrimarySource' '%s' is not an input artifact of "
			   "'%s'",
			   prim, a->name);
	if (!env)
		return 0;
	tok = json_tokener_new();
	j = json_tokener_parse_ex(tok, env, (int)strlen(env));
	if (!j || json_tokener_get_error(tok) != json_tokener_success ||
	    env[json_tokener_get_parse_end(tok) +
		strspn(env + json_tokener_get_parse_end(tok), " \t\r\n")] ||
	    !json_object_is_type(j, json_type_array)) {
		ret = bad(p, ynode_map_get(c, "EnvironmentVariables"),
			  "'EnvironmentVariables' must be a JSON array of "
			  "{name, value, type} in a string");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(j); i++) {
		json_object *o = json_object_array_get_idx(j, i), *f;
		const char *t;

		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, "name", &f) ||
		    !json_object_is_type(f, json_type_string) ||
		    !json_object_get_string_len(f) ||
		    !json_object_object_get_ex(o, "value", &f) ||
		    !json_object_is_type(f, json_type_string)) {
			ret = bad(p, ynode_map_get(c, "EnvironmentVariables"),
				  "'EnvironmentVariables[%zu]' must have a "
				  "string 'name' and 'value'",
				  i);
			goto out;
		}
		if (!json_object_object_get_ex(o, "type", &f))
			continue;
		t = json_object_get_string(f);
		if (!json_object_is_type(f, json_type_string) ||
		    (strcmp(t, "PLAINTEXT") && strcmp(t, "PARAMETER_STORE") &&
		     strcmp(t, "SECRETS_MANAGER"))) {
			ret = bad(p, ynode_map_get(c, "EnvironmentVariables"),
				  "'EnvironmentVariables[%zu].type' must be "
				  "PLAINTEXT, PARAMETER_STORE or "
				  "SECRETS_MANAGER",
				  i);
			goto out;
		}
		if (strcmp(t, "PLAINTEXT") && !a->secret_var) {
			json_object_object_get_ex(o, "name", &f);
			a->secret_var = xstrdup(json_object_get_string(f));
			a->secret_type = xstrdup(t);
		}
	}
out:
	json_object_put(j);
	json_tokener_free(tok);
	return ret;
}

static int parse_action(struct pp *p, const struct ynode *an, size_t s,
			size_t i, struct pl_action *a)
{
	static const char *const keys[] = { "name",
					    "actionTypeId",
					    "runOrder",
					    "configuration",
					    "inputArtifacts",
					    "outputArtifacts",
					    "namespace",
					    "timeoutInMinutes",
					    "commands",
					    "outputVariables",
					    "environmentVariables",
					    NULL };
	static const char *const aws[] = { "roleArn", "region", NULL };
	char path[200], sub[300];

	snprintf(path, sizeof(path), "stages[%zu].actions[%zu]", s, i);
	if (need_map(p, an, path) < 0)
		return -1;
	a->line = an->line;
	a->col = an->col;
	a->binding = -1;
	a->run_order = 1;
	strvec_init(&a->outputs);
	strvec_init(&a->files);
	strvec_init(&a->commands);
	strvec_init(&a->output_variables);
	check_keys(p, an, path, keys, aws);
	snprintf(sub, sizeof(sub), "%s.name", path);
	if (get_name(p, an, "name", sub, ".@_-", PL_MAX_NAME, &a->name) < 0)
		return -1;
	if (parse_type(p, an, path, a) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.runOrder", path);
	if (get_int(p, ynode_map_get(an, "runOrder"), sub, 1, PL_MAX_RUN_ORDER,
		    &a->run_order) < 0)
		return -1;
	if (parse_config(p, an, path, a) < 0 ||
	    parse_artifacts(p, an, path, "inputArtifacts", a) < 0 ||
	    parse_artifacts(p, an, path, "outputArtifacts", a) < 0 ||
	    parse_commands_fields(p, an, path, a) < 0 ||
	    check_counts(p, an, path, a) < 0 ||
	    (a->provider == PL_CODEBUILD &&
	     check_codebuild(p, an, path, a) < 0))
		return -1;
	if (ynode_map_get(an, "namespace")) {
		snprintf(sub, sizeof(sub), "%s.namespace", path);
		if (get_name(p, an, "namespace", sub, "@_-", PL_MAX_NAME,
			     &a->namespace) < 0)
			return -1;
		if (!strcmp(a->namespace, PLVAR_CODEPIPELINE) ||
		    !strcmp(a->namespace, PLVAR_VARIABLES))
			return bad(p, ynode_map_get(an, "namespace"),
				   "namespace '%s' is reserved", a->namespace);
	}
	snprintf(sub, sizeof(sub), "%s.timeoutInMinutes", path);
	if (get_int(p, ynode_map_get(an, "timeoutInMinutes"), sub, 5, 86400,
		    &a->timeout_minutes) < 0)
		return -1;
	if (key_of(an, "region")) {
		const struct ynode *r = ynode_map_get(an, "region");

		if (!r || r->type != YNODE_SCALAR || r->len < 4 || r->len > 30)
			return bad(p, ynode_at(r, key_of(an, "region")),
				   "'%s.region' must be 4 to 30 characters",
				   path);
	}
	if (key_of(an, "region") &&
	    (a->category == PL_SOURCE || strcmp(a->owner, "AWS")))
		return bad(p, key_of(an, "region"),
			   "'%s.region': a %s action cannot be cross-region",
			   path,
			   a->category == PL_SOURCE ? "source" : a->owner);
	return 0;
}

/* ---- stages, variables, triggers ---- */

static int parse_on_failure(struct pp *p, const struct ynode *sn,
			    const char *path, struct pl_stage *st)
{
	static const char *const keys[] = { "result", "retryConfiguration",
					    NULL };
	static const char *const rc_keys[] = { "retryMode", NULL };
	static const char *const modes[] = { "FAILED_ACTIONS", "ALL_ACTIONS" };
	const struct ynode *f = ynode_map_get(sn, "onFailure"), *rc;
	char sub[300];
	int v;

	snprintf(sub, sizeof(sub), "%s.onFailure", path);
	if (!f || ynode_is_null(f))
		return 0;
	if (need_map(p, f, sub) < 0)
		return -1;
	if (key_of(f, "conditions"))
		return bad(p, key_of(f, "conditions"),
			   "'%s.conditions': stage conditions are not "
			   "supported",
			   sub);
	check_keys(p, f, sub, keys, NULL);
	snprintf(sub, sizeof(sub), "%s.onFailure.result", path);
	if (!ynode_map_get(f, "result"))
		return bad(p, f, "'%s' is required", sub);
	v = get_enum(p, ynode_map_get(f, "result"), sub, on_failure_names,
		     ARRAY_SIZE(on_failure_names));
	if (v < 0)
		return -1;
	st->on_failure = (enum pl_on_failure)v;
	st->on_failure_set = true;
	rc = ynode_map_get(f, "retryConfiguration");
	if (!rc || ynode_is_null(rc))
		return 0;
	snprintf(sub, sizeof(sub), "%s.onFailure.retryConfiguration", path);
	if (st->on_failure != PL_RETRY)
		return bad(p, key_of(f, "retryConfiguration"),
			   "'%s' is only for result RETRY", sub);
	if (need_map(p, rc, sub) < 0)
		return -1;
	check_keys(p, rc, sub, rc_keys, NULL);
	snprintf(sub, sizeof(sub), "%s.onFailure.retryConfiguration.retryMode",
		 path);
	if (!ynode_map_get(rc, "retryMode"))
		return 0;
	v = get_enum(p, ynode_map_get(rc, "retryMode"), sub, modes,
		     ARRAY_SIZE(modes));
	if (v < 0)
		return -1;
	st->retry_mode = (enum pl_retry_mode)v;
	return 0;
}

static int parse_stage(struct pp *p, const struct ynode *sn, size_t s,
		       struct pl_stage *st)
{
	static const char *const keys[] = { "name", "actions", "onFailure",
					    NULL };
	static const char *const unsupported[] = { "blockers", "onSuccess",
						   "beforeEntry" };
	const struct ynode *acts;
	char path[64], sub[128];

	snprintf(path, sizeof(path), "stages[%zu]", s);
	if (need_map(p, sn, path) < 0)
		return -1;
	st->line = sn->line;
	st->col = sn->col;
	for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
		if (key_of(sn, unsupported[i]))
			return bad(p, key_of(sn, unsupported[i]),
				   "'%s.%s': stage conditions are not "
				   "supported",
				   path, unsupported[i]);
	check_keys(p, sn, path, keys, NULL);
	snprintf(sub, sizeof(sub), "%s.name", path);
	if (get_name(p, sn, "name", sub, ".@_-", PL_MAX_NAME, &st->name) < 0)
		return -1;
	for (size_t i = 0; i < s; i++)
		if (!strcmp(p->pl->stages[i].name, st->name))
			return bad(p, ynode_map_get(sn, "name"),
				   "duplicate stage name '%s': 'stages[%zu]' "
				   "on line %d has it already",
				   st->name, i, p->pl->stages[i].line);
	if (parse_on_failure(p, sn, path, st) < 0)
		return -1;
	acts = ynode_map_get(sn, "actions");
	snprintf(sub, sizeof(sub), "%s.actions", path);
	if (!acts)
		return bad(p, sn, "'%s' is required", sub);
	if (need_seq(p, acts, sub) < 0)
		return -1;
	if (seq_len(acts) < 1 || seq_len(acts) > PL_MAX_STAGE_ACTIONS)
		return bad(p, acts, "'%s' must hold 1 to %d actions, not %zu",
			   sub, PL_MAX_STAGE_ACTIONS, seq_len(acts));
	st->actions = xcalloc(acts->nr, sizeof(*st->actions));
	for (size_t i = 0; i < acts->nr; i++) {
		struct pl_action *a = &st->actions[i];

		st->nr_actions++;
		if (parse_action(p, acts->items[i], s, i, a) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(st->actions[j].name, a->name))
				return bad(
					p,
					ynode_map_get(acts->items[i], "name"),
					"duplicate action name '%s' in "
					"stage '%s': line %d has it already",
					a->name, st->name, st->actions[j].line);
	}
	/* runOrder groups: the rank of each distinct value */
	for (size_t i = 0; i < st->nr_actions; i++) {
		int rank = 0;

		for (size_t j = 0; j < st->nr_actions; j++) {
			bool lower_new = st->actions[j].run_order <
					 st->actions[i].run_order;

			for (size_t k = 0; lower_new && k < j; k++)
				if (st->actions[k].run_order ==
				    st->actions[j].run_order)
					lower_new = false;
			rank += lower_new;
		}
		st->actions[i].group = rank;
		if (rank + 1 > st->nr_groups)
			st->nr_groups = rank + 1;
	}
	return 0;
}

static int parse_variables(struct pp *p, const struct ynode *n)
{
	static const char *const keys[] = { "name", "defaultValue",
					    "description", NULL };
	char sub[64];

	if (need_seq(p, n, "variables") < 0)
		return -1;
	if (seq_len(n) > PL_MAX_VARIABLES)
		return bad(p, n, "'variables' must hold at most %d entries",
			   PL_MAX_VARIABLES);
	p->pl->variables = xcalloc(seq_len(n) + 1, sizeof(*p->pl->variables));
	for (size_t i = 0; i < seq_len(n); i++) {
		const struct ynode *it = n->items[i];
		struct pl_variable *v = &p->pl->variables[i];

		snprintf(sub, sizeof(sub), "variables[%zu]", i);
		if (need_map(p, it, sub) < 0)
			return -1;
		check_keys(p, it, sub, keys, NULL);
		p->pl->nr_variables++;
		snprintf(sub, sizeof(sub), "variables[%zu].name", i);
		if (get_name(p, it, "name", sub, "@_-", 128, &v->name) < 0)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->pl->variables[j].name, v->name))
				return bad(p, ynode_map_get(it, "name"),
					   "duplicate variable '%s'", v->name);
		snprintf(sub, sizeof(sub), "variables[%zu].defaultValue", i);
		if (get_str(p, ynode_map_get(it, "defaultValue"), sub,
			    &v->default_value) < 0)
			return -1;
		if (v->default_value &&
		    (!*v->default_value || strlen(v->default_value) > 1000))
			return bad(p, ynode_map_get(it, "defaultValue"),
				   "'%s' must be 1 to 1000 characters", sub);
		snprintf(sub, sizeof(sub), "variables[%zu].description", i);
		if (get_str(p, ynode_map_get(it, "description"), sub,
			    &v->description) < 0)
			return -1;
		if (v->description && strlen(v->description) > 200)
			return bad(p, ynode_map_get(it, "description"),
				   "'%s' must be at most 200 characters", sub);
	}
	return 0;
}

static int parse_patterns(struct pp *p, const struct ynode *n, const char *path,
			  struct pl_patterns *pt)
{
	static const char *const keys[] = { "includes", "excludes", NULL };
	char sub[340];

	strvec_init(&pt->includes);
	strvec_init(&pt->excludes);
	if (!n)
		return 0;
	if (need_map(p, n, path) < 0)
		return -1;
	check_keys(p, n, path, keys, NULL);
	pt->set = true;
	if (!ynode_map_get(n, "includes") && !ynode_map_get(n, "excludes"))
		return bad(p, n, "'%s' needs 'includes' or 'excludes'", path);
	snprintf(sub, sizeof(sub), "%s.includes", path);
	if (ynode_map_get(n, "includes") &&
	    get_strings(p, ynode_map_get(n, "includes"), sub, 1, 8, 255,
			&pt->includes) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.excludes", path);
	if (ynode_map_get(n, "excludes") &&
	    get_strings(p, ynode_map_get(n, "excludes"), sub, 1, 8, 255,
			&pt->excludes) < 0)
		return -1;
	return 0;
}

static int parse_filters(struct pp *p, const struct ynode *n, const char *path,
			 bool pr, struct pl_filter **out, size_t *nr)
{
	static const char *const push_keys[] = { "branches", "tags",
						 "filePaths", NULL };
	static const char *const pr_keys[] = { "branches", "filePaths",
					       "events", NULL };
	static const char *const events[] = { "OPEN", "UPDATED", "CLOSED" };
	char sub[300];

	if (!n)
		return 0;
	if (need_seq(p, n, path) < 0)
		return -1;
	if (seq_len(n) < 1 || seq_len(n) > 3)
		return bad(p, n, "'%s' must hold 1 to 3 filters, not %zu", path,
			   seq_len(n));
	*out = xcalloc(n->nr, sizeof(**out));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *it = n->items[i], *ev;
		struct pl_filter *f = &(*out)[i];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		(*nr)++;
		strvec_init(&f->branches.includes);
		strvec_init(&f->branches.excludes);
		strvec_init(&f->tags.includes);
		strvec_init(&f->tags.excludes);
		strvec_init(&f->file_paths.includes);
		strvec_init(&f->file_paths.excludes);
		if (need_map(p, it, sub) < 0)
			return -1;
		if (pr && key_of(it, "tags"))
			return bad(p, key_of(it, "tags"),
				   "'%s': a pull request filter has no "
				   "'tags'",
				   sub);
		if (!pr && key_of(it, "events"))
			return bad(p, key_of(it, "events"),
				   "'%s': a push filter has no 'events'", sub);
		check_keys(p, it, sub, pr ? pr_keys : push_keys, NULL);
		if (ynode_map_get(it, "tags") &&
		    (ynode_map_get(it, "branches") ||
		     ynode_map_get(it, "filePaths")))
			return bad(p, key_of(it, "tags"),
				   "'%s': 'tags' cannot be combined with "
				   "'branches' or 'filePaths' in one filter "
				   "(use two filters)",
				   sub);
		if (!ynode_map_get(it, "tags") &&
		    !ynode_map_get(it, "branches"))
			return bad(p, it, "'%s' needs '%s'", sub,
				   pr ? "branches" : "branches' or 'tags");
		snprintf(sub, sizeof(sub), "%s[%zu].branches", path, i);
		if (parse_patterns(p, ynode_map_get(it, "branches"), sub,
				   &f->branches) < 0)
			return -1;
		snprintf(sub, sizeof(sub), "%s[%zu].tags", path, i);
		if (parse_patterns(p, ynode_map_get(it, "tags"), sub,
				   &f->tags) < 0)
			return -1;
		snprintf(sub, sizeof(sub), "%s[%zu].filePaths", path, i);
		if (parse_patterns(p, ynode_map_get(it, "filePaths"), sub,
				   &f->file_paths) < 0)
			return -1;
		ev = ynode_map_get(it, "events");
		snprintf(sub, sizeof(sub), "%s[%zu].events", path, i);
		if (need_seq(p, ev, sub) < 0)
			return -1;
		if (ev && (seq_len(ev) < 1 || seq_len(ev) > 3))
			return bad(p, ev, "'%s' must hold 1 to 3 events", sub);
		for (size_t j = 0; j < seq_len(ev); j++) {
			int v = get_enum(p, ev->items[j], sub, events,
					 ARRAY_SIZE(events));

			if (v < 0)
				return -1;
			f->events |= 1u << v;
		}
		if (pr && !ev)
			f->events = PL_EVENT_OPEN | PL_EVENT_UPDATED |
				    PL_EVENT_CLOSED;
	}
	return 0;
}

static int parse_triggers(struct pp *p, const struct ynode *n)
{
	static const char *const keys[] = { "providerType", "gitConfiguration",
					    NULL };
	static const char *const git_keys[] = { "sourceActionName", "push",
						"pullRequest", NULL };
	static const char *const types[] = { "CodeStarSourceConnection" };
	struct pipeline *pl = p->pl;
	char sub[300];

	if (need_seq(p, n, "triggers") < 0)
		return -1;
	if (seq_len(n) > PL_MAX_TRIGGERS)
		return bad(p, n, "'triggers' must hold at most %d entries",
			   PL_MAX_TRIGGERS);
	pl->triggers = xcalloc(seq_len(n) + 1, sizeof(*pl->triggers));
	for (size_t i = 0; i < seq_len(n); i++) {
		const struct ynode *it = n->items[i], *g, *sa;
		struct pl_trigger *t = &pl->triggers[i];
		const struct pl_action *src = NULL;

		snprintf(sub, sizeof(sub), "triggers[%zu]", i);
		if (need_map(p, it, sub) < 0)
			return -1;
		pl->nr_triggers++;
		check_keys(p, it, sub, keys, NULL);
		snprintf(sub, sizeof(sub), "triggers[%zu].providerType", i);
		if (!ynode_map_get(it, "providerType"))
			return bad(p, it, "'%s' is required", sub);
		if (get_enum(p, ynode_map_get(it, "providerType"), sub, types,
			     1) < 0)
			return -1;
		g = ynode_map_get(it, "gitConfiguration");
		snprintf(sub, sizeof(sub), "triggers[%zu].gitConfiguration", i);
		if (!g)
			return bad(p, it, "'%s' is required", sub);
		if (need_map(p, g, sub) < 0)
			return -1;
		check_keys(p, g, sub, git_keys, NULL);
		snprintf(sub, sizeof(sub),
			 "triggers[%zu].gitConfiguration.sourceActionName", i);
		if (get_name(p, g, "sourceActionName", sub, ".@_-", PL_MAX_NAME,
			     &t->source_action) < 0)
			return -1;
		sa = ynode_map_get(g, "sourceActionName");
		for (size_t a = 0;
		     pl->nr_stages && a < pl->stages[0].nr_actions; a++)
			if (!strcmp(pl->stages[0].actions[a].name,
				    t->source_action))
				src = &pl->stages[0].actions[a];
		if (!src)
			return bad(p, sa,
				   "'%s' (%s) is not an action of the first "
				   "stage",
				   sub, t->source_action);
		if (src->provider == PL_S3)
			return bad(p, sa,
				   "'%s' (%s) is an S3 source: triggers are "
				   "for git sources",
				   sub, t->source_action);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(pl->triggers[j].source_action,
				    t->source_action))
				return bad(p, sa,
					   "source action '%s' has a trigger "
					   "already: 'triggers[%zu]'",
					   t->source_action, j);
		snprintf(sub, sizeof(sub),
			 "triggers[%zu].gitConfiguration.push", i);
		if (parse_filters(p, ynode_map_get(g, "push"), sub, false,
				  &t->push, &t->nr_push) < 0)
			return -1;
		snprintf(sub, sizeof(sub),
			 "triggers[%zu].gitConfiguration.pullRequest", i);
		if (parse_filters(p, ynode_map_get(g, "pullRequest"), sub, true,
				  &t->pull_request, &t->nr_pull_request) < 0)
			return -1;
	}
	return 0;
}

/* ---- the slipway section ---- */

/* A mapping whose keys are non-empty strings. */
static int need_named_map(struct pp *p, const struct ynode *m, const char *path)
{
	if (need_map(p, m, path) < 0)
		return -1;
	for (size_t i = 0; i < m->nr; i++)
		if (m->keys[i]->type != YNODE_SCALAR || !m->keys[i]->len ||
		    ynode_has_nul(m->keys[i]))
			return bad(p, m->keys[i],
				   "the keys of '%s' must be names", path);
	return 0;
}

/* A git URL rather than a path: scheme://..., or scp-like user@host:path. */
static bool is_git_url(const char *s)
{
	const char *at = strchr(s, '@'), *colon = strchr(s, ':');

	if (strstr(s, "://"))
		return true;
	return at && colon && at < colon && !memchr(s, '/', (size_t)(at - s));
}

/* A path relative to the pipeline's directory, made absolute; it must
 * exist. */
static int get_path(struct pp *p, const struct ynode *n, const char *path,
		    char **out)
{
	char *s = NULL;

	if (get_str(p, n, path, &s) < 0)
		return -1;
	if (!s || !*s) {
		free(s);
		return bad(p, n, "'%s' must be a path", path);
	}
	if (s[0] == '/') {
		*out = fs_abspath(s);
	} else {
		char *joined = fs_join(p->pl->dir, s);

		*out = fs_abspath(joined);
		free(joined);
	}
	free(s);
	if (!fs_exists(*out))
		return bad(p, n, "'%s': no such file or directory: %s", path,
			   yshown(n).s);
	return 0;
}

static int parse_sources(struct pp *p, const struct ynode *m)
{
	struct pipeline *pl = p->pl;
	char sub[200];

	if (need_named_map(p, m, "slipway.sources") < 0)
		return -1;
	pl->sources = xcalloc(m->nr + 1, sizeof(*pl->sources));
	for (size_t i = 0; i < m->nr; i++) {
		struct pl_binding *b = &pl->sources[pl->nr_sources];
		const struct ynode *v = m->items[i];
		char *s = NULL;

		snprintf(sub, sizeof(sub), "slipway.sources.%s",
			 yshown(m->keys[i]).s);
		b->name = xstrdup(m->keys[i]->value);
		b->line = m->keys[i]->line;
		b->col = m->keys[i]->col;
		pl->nr_sources++;
		if (get_str(p, v, sub, &s) < 0)
			return -1;
		if (s && is_git_url(s)) {
			b->target = s;
			b->url = true;
			continue;
		}
		free(s);
		if (get_path(p, v, sub, &b->target) < 0)
			return -1;
	}
	return 0;
}

static bool env_name_ok(const char *s)
{
	return *s && !(*s >= '0' && *s <= '9') && charset_ok(s, "_");
}

static int parse_project(struct pp *p, const struct ynode *k,
			 const struct ynode *v, struct pl_project *pr)
{
	static const char *const keys[] = { "buildspec",    "env",
					    "secrets-file", "isolation",
					    "runs-on",	    NULL };
	static const char *const isolations[] = { "dir", "sandbox", "auto" };
	const struct ynode *env;
	char path[200], sub[300];

	snprintf(path, sizeof(path), "slipway.projects.%s", yshown(k).s);
	pr->name = xstrdup(k->value);
	pr->line = k->line;
	pr->col = k->col;
	strvec_init(&pr->env);
	strvec_init(&pr->runs_on);
	if (ynode_is_null(v))
		return 0;
	if (need_map(p, v, path) < 0)
		return -1;
	check_keys(p, v, path, keys, NULL);
	snprintf(sub, sizeof(sub), "%s.buildspec", path);
	if (get_str(p, ynode_map_get(v, "buildspec"), sub, &pr->buildspec) < 0)
		return -1;
	if (pr->buildspec && (!*pr->buildspec || pr->buildspec[0] == '/' ||
			      !strcmp(pr->buildspec, "..") ||
			      !strncmp(pr->buildspec, "../", 3) ||
			      strstr(pr->buildspec, "/../")))
		return bad(p, ynode_map_get(v, "buildspec"),
			   "'%s' must be a path inside the source, not '%s'",
			   sub, yshown(ynode_map_get(v, "buildspec")).s);
	env = ynode_map_get(v, "env");
	snprintf(sub, sizeof(sub), "%s.env", path);
	if (env && !ynode_is_null(env) && need_map(p, env, sub) < 0)
		return -1;
	for (size_t i = 0; env && env->type == YNODE_MAP && i < env->nr; i++) {
		char *val = NULL;

		if (env->keys[i]->type != YNODE_SCALAR ||
		    !env_name_ok(env->keys[i]->value))
			return bad(p, env->keys[i],
				   "invalid variable name in '%s' (%s)", sub,
				   yshown(env->keys[i]).s);
		if (get_str(p, env->items[i], sub, &val) < 0)
			return -1;
		strvec_pushf(&pr->env, "%s=%s", env->keys[i]->value,
			     val ? val : "");
		free(val);
	}
	snprintf(sub, sizeof(sub), "%s.secrets-file", path);
	if (ynode_map_get(v, "secrets-file") &&
	    get_path(p, ynode_map_get(v, "secrets-file"), sub,
		     &pr->secrets_file) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.isolation", path);
	if (ynode_map_get(v, "isolation")) {
		int i = get_enum(p, ynode_map_get(v, "isolation"), sub,
				 isolations, ARRAY_SIZE(isolations));

		if (i < 0)
			return -1;
		pr->isolation = xstrdup(isolations[i]);
	}
	snprintf(sub, sizeof(sub), "%s.runs-on", path);
	if (ynode_map_get(v, "runs-on") &&
	    ynode_strlist(p->doc, ynode_map_get(v, "runs-on"), sub,
			  &pr->runs_on, p->e) < 0)
		return -1;
	return 0;
}

/*
 * Load a group file, naming it in messages as the user would find it from
 * where they are: the pipeline file's directory as given, joined with the
 * path as written.
 */
static int group_load_as(struct pp *p, const struct ynode *written,
			 const char *abs, struct group *g)
{
	const char *slash = strrchr(p->pl->file, '/');
	char *shown;
	int ret;

	if (written->value[0] == '/' || !slash)
		shown = xstrdup(written->value);
	else
		shown = xasprintf("%.*s/%s", (int)(slash - p->pl->file),
				  p->pl->file, written->value);
	ret = group_load(abs, g, p->e);
	if (ret < 0 && !strncmp(p->e->msg, abs, strlen(abs))) {
		char rest[sizeof(p->e->msg)];

		snprintf(rest, sizeof(rest), "%s", p->e->msg + strlen(abs));
		snprintf(p->e->msg, sizeof(p->e->msg), "%s%s", shown, rest);
	}
	free(shown);
	return ret;
}

static int parse_groups(struct pp *p, const struct ynode *m)
{
	struct pipeline *pl = p->pl;
	char sub[200];

	if (need_named_map(p, m, "slipway.deployment-groups") < 0)
		return -1;
	pl->groups = xcalloc(m->nr + 1, sizeof(*pl->groups));
	for (size_t i = 0; i < m->nr; i++) {
		struct pl_binding *b = &pl->groups[pl->nr_groups];
		const struct ynode *k = m->keys[i];
		struct group g = GROUP_INIT;
		const char *slash = strchr(k->value, '/');

		snprintf(sub, sizeof(sub), "slipway.deployment-groups.%s",
			 yshown(k).s);
		b->name = xstrdup(k->value);
		b->line = k->line;
		b->col = k->col;
		pl->nr_groups++;
		if (!slash || slash == k->value || !slash[1] ||
		    strchr(slash + 1, '/'))
			return bad(p, k,
				   "'%s': the key must be "
				   "ApplicationName/DeploymentGroupName",
				   sub);
		if (get_path(p, m->items[i], sub, &b->target) < 0)
			return -1;
		if (group_load_as(p, m->items[i], b->target, &g) < 0) {
			err_prefix(p->e, "%s:%d:%d: deployment group '%s'",
				   p->doc->file, m->items[i]->line,
				   m->items[i]->col, b->name);
			return -1;
		}
		if (strncmp(k->value, g.application,
			    (size_t)(slash - k->value)) ||
		    g.application[slash - k->value] ||
		    strcmp(slash + 1, g.name)) {
			bad(p, m->items[i],
			    "'%s': the group file is application '%s', group "
			    "'%s'",
			    sub, g.application, g.name);
			group_release(&g);
			return -1;
		}
		group_release(&g);
	}
	return 0;
}

static int parse_notifications(struct pp *p, const struct ynode *m)
{
	static const char *const keys[] = { "command", "url", NULL };
	struct pipeline *pl = p->pl;
	char sub[200], isub[260];

	if (need_named_map(p, m, "slipway.notifications") < 0)
		return -1;
	pl->notifications = xcalloc(m->nr + 1, sizeof(*pl->notifications));
	for (size_t i = 0; i < m->nr; i++) {
		struct pl_notification *nt =
			&pl->notifications[pl->nr_notifications];
		const struct ynode *v = m->items[i];

		snprintf(sub, sizeof(sub), "slipway.notifications.%s",
			 yshown(m->keys[i]).s);
		nt->name = xstrdup(m->keys[i]->value);
		pl->nr_notifications++;
		if (need_map(p, v, sub) < 0)
			return -1;
		check_keys(p, v, sub, keys, NULL);
		snprintf(isub, sizeof(isub), "%s.command", sub);
		if (get_str(p, ynode_map_get(v, "command"), isub,
			    &nt->command) < 0)
			return -1;
		snprintf(isub, sizeof(isub), "%s.url", sub);
		if (get_str(p, ynode_map_get(v, "url"), isub, &nt->url) < 0)
			return -1;
		if ((nt->command && !*nt->command) ||
		    (!nt->command && !nt->url))
			return bad(p, v, "'%s' needs a 'command' or a 'url'",
				   sub);
		if (nt->url && strncmp(nt->url, "http://", 7) &&
		    strncmp(nt->url, "https://", 8))
			return bad(p, ynode_map_get(v, "url"),
				   "'%s' must be an http:// or https:// URL",
				   isub);
	}
	return 0;
}

/* "30s", "5m", "1h" or a bare number of seconds: 1s to 24h. */
static int parse_poll(struct pp *p, const struct ynode *n)
{
	unsigned long v;
	char *end;

	if (n->type == YNODE_SCALAR && n->len && n->value[0] >= '0' &&
	    n->value[0] <= '9') {
		v = strtoul(n->value, &end, 10);
		if (*end == 'm')
			v *= 60, end++;
		else if (*end == 'h')
			v *= 3600, end++;
		else if (*end == 's')
			end++;
		if (!*end && v >= 1 && v <= 86400) {
			p->pl->poll_seconds = (int)v;
			return 0;
		}
	}
	return bad(p, n,
		   "invalid 'slipway.poll' (%s): a duration such as 30s, 5m "
		   "or 1h, at most 24h",
		   n->type == YNODE_SCALAR ? yshown(n).s : ynode_kind(n));
}

static int get_bool(struct pp *p, const struct ynode *n, const char *path,
		    bool *out)
{
	if (!n || ynode_is_null(n))
		return 0;
	if (n->type == YNODE_SCALAR && !strcmp(n->value, "true"))
		*out = true;
	else if (n->type == YNODE_SCALAR && !strcmp(n->value, "false"))
		*out = false;
	else
		return bad(p, n, "'%s' must be true or false, not '%s'", path,
			   n->type == YNODE_SCALAR ? yshown(n).s
						   : ynode_kind(n));
	return 0;
}

static int find_source(const struct pipeline *pl, const char *name);

static int parse_status(struct pp *p, const struct ynode *k,
			const struct ynode *v, struct pl_status *st)
{
	static const char *const keys[] = { "forge",	  "api",
					    "repository", "token-file",
					    "context",	  NULL };
	static const char *const forges[] = { "github", "gitlab", "gitea" };
	static const char *const apis[] = { "https://api.github.com",
					    "https://gitlab.com/api/v4", NULL };
	struct pipeline *pl = p->pl;
	char sub[200], isub[260];
	size_t n;
	int f;

	snprintf(sub, sizeof(sub), "slipway.statuses.%s", yshown(k).s);
	st->source = xstrdup(k->value);
	st->line = k->line;
	st->col = k->col;
	if (find_source(pl, k->value) < 0)
		return bad(p, k,
			   "'%s': '%s' is not a name in 'slipway.sources'", sub,
			   yshown(k).s);
	if (need_map(p, v, sub) < 0)
		return -1;
	check_keys(p, v, sub, keys, NULL);
	snprintf(isub, sizeof(isub), "%s.forge", sub);
	if (!ynode_map_get(v, "forge"))
		return bad(p, v, "'%s' is required: github, gitlab or gitea",
			   isub);
	f = get_enum(p, ynode_map_get(v, "forge"), isub, forges, 3);
	if (f < 0)
		return -1;
	st->forge = xstrdup(forges[f]);
	snprintf(isub, sizeof(isub), "%s.api", sub);
	if (get_str(p, ynode_map_get(v, "api"), isub, &st->api) < 0)
		return -1;
	if (!st->api && !apis[f])
		return bad(p, v,
			   "'%s' is required for gitea: the API base, "
			   "such as https://gitea.example.com/api/v1",
			   isub);
	if (!st->api)
		st->api = xstrdup(apis[f]);
	if (strncmp(st->api, "http://", 7) && strncmp(st->api, "https://", 8))
		return bad(p, ynode_map_get(v, "api"),
			   "'%s' must be an http:// or https:// URL", isub);
	n = strlen(st->api);
	while (n > 8 && st->api[n - 1] == '/')
		st->api[--n] = '\0';
	snprintf(isub, sizeof(isub), "%s.repository", sub);
	if (get_str(p, ynode_map_get(v, "repository"), isub, &st->repository) <
	    0)
		return -1;
	if (!st->repository)
		st->repository = xstrdup(k->value);
	if (!*st->repository || strstr(st->repository, "..") ||
	    !charset_ok(st->repository, "-_./"))
		return bad(p,
			   ynode_map_get(v, "repository")
				   ? ynode_map_get(v, "repository")
				   : k,
			   "invalid '%s' (%s): owner/name", isub,
			   st->repository);
	snprintf(isub, sizeof(isub), "%s.token-file", sub);
	if (!ynode_map_get(v, "token-file"))
		return bad(p, v, "'%s' is required", isub);
	if (get_path(p, ynode_map_get(v, "token-file"), isub, &st->token_file) <
	    0)
		return -1;
	snprintf(isub, sizeof(isub), "%s.context", sub);
	if (get_str(p, ynode_map_get(v, "context"), isub, &st->context) < 0)
		return -1;
	if (!st->context)
		st->context = xasprintf("slipway/%s", pl->name ? pl->name : "");
	if (!*st->context || strlen(st->context) > 255)
		return bad(p, ynode_map_get(v, "context"),
			   "'%s' must be 1 to 255 characters", isub);
	return 0;
}

static int parse_slipway(struct pp *p, const struct ynode *m)
{
	static const char *const keys[] = { "sources",
					    "projects",
					    "deployment-groups",
					    "notifications",
					    "webhook-secret-file",
					    "poll",
					    "secrets-file",
					    "allow-fork-pull-requests",
					    "statuses",
					    NULL };
	struct pipeline *pl = p->pl;
	const struct ynode *v;

	if (!m || ynode_is_null(m))
		return 0;
	if (need_map(p, m, "slipway") < 0)
		return -1;
	check_keys(p, m, "slipway", keys, NULL);
	if ((v = ynode_map_get(m, "sources")) && !ynode_is_null(v) &&
	    parse_sources(p, v) < 0)
		return -1;
	if ((v = ynode_map_get(m, "projects")) && !ynode_is_null(v)) {
		if (need_named_map(p, v, "slipway.projects") < 0)
			return -1;
		pl->projects = xcalloc(v->nr + 1, sizeof(*pl->projects));
		for (size_t i = 0; i < v->nr; i++) {
			pl->nr_projects++;
			if (parse_project(p, v->keys[i], v->items[i],
					  &pl->projects[i]) < 0)
				return -1;
		}
	}
	if ((v = ynode_map_get(m, "deployment-groups")) && !ynode_is_null(v) &&
	    parse_groups(p, v) < 0)
		return -1;
	if ((v = ynode_map_get(m, "notifications")) && !ynode_is_null(v) &&
	    parse_notifications(p, v) < 0)
		return -1;
	if ((v = ynode_map_get(m, "webhook-secret-file")) &&
	    get_path(p, v, "slipway.webhook-secret-file",
		     &pl->webhook_secret_file) < 0)
		return -1;
	if ((v = ynode_map_get(m, "poll")) && !ynode_is_null(v) &&
	    parse_poll(p, v) < 0)
		return -1;
	if ((v = ynode_map_get(m, "secrets-file"))) {
		struct secrets sec = SECRETS_INIT;
		struct sw_err se = SW_ERR_INIT;
		int rc;

		if (get_path(p, v, "slipway.secrets-file", &pl->secrets_file) <
		    0)
			return -1;
		/* a malformed one is refused now, not when an action runs */
		secrets_init(&sec);
		rc = secrets_load_file(&sec, pl->secrets_file, &se);
		secrets_release(&sec);
		if (rc < 0) {
			rc = bad(p, v, "'slipway.secrets-file': %s", se.msg);
			err_clear(&se);
			return rc;
		}
	}
	if (get_bool(p, ynode_map_get(m, "allow-fork-pull-requests"),
		     "slipway.allow-fork-pull-requests",
		     &pl->allow_fork_pull_requests) < 0)
		return -1;
	if ((v = ynode_map_get(m, "statuses")) && !ynode_is_null(v)) {
		if (need_named_map(p, v, "slipway.statuses") < 0)
			return -1;
		pl->statuses = xcalloc(v->nr + 1, sizeof(*pl->statuses));
		for (size_t i = 0; i < v->nr; i++) {
			pl->nr_statuses++;
			if (parse_status(p, v->keys[i], v->items[i],
					 &pl->statuses[i]) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- what joins them ---- */

/* Action (s1, a1) runs before action (s2, a2) starts. */
static bool runs_before(const struct pipeline *pl, size_t s1, size_t a1,
			size_t s2, size_t a2)
{
	return s1 < s2 ||
	       (s1 == s2 && pl->stages[s1].actions[a1].run_order <
				    pl->stages[s2].actions[a2].run_order);
}

static int check_sources(struct pp *p)
{
	struct pipeline *pl = p->pl;

	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++) {
			const struct pl_action *ac = &pl->stages[s].actions[a];

			if (!s && ac->category != PL_SOURCE)
				return bad(p,
					   ynode_map_get(action_node(p, s, a),
							 "actionTypeId"),
					   "action '%s' of the first stage is "
					   "no source action: the first stage "
					   "holds source actions only",
					   ac->name);
			if (s && ac->category == PL_SOURCE)
				return bad(p,
					   ynode_map_get(action_node(p, s, a),
							 "actionTypeId"),
					   "source action '%s' is in stage "
					   "'%s': source actions belong to the "
					   "first stage only",
					   ac->name, pl->stages[s].name);
		}
	return 0;
}

/* Where an artifact is output: 0 and *ps, *pa, or -1. */
static int find_output(const struct pipeline *pl, const char *name, size_t *ps,
		       size_t *pa)
{
	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++)
			if (strvec_find(&pl->stages[s].actions[a].outputs,
					name) >= 0) {
				*ps = s;
				*pa = a;
				return 0;
			}
	return -1;
}

static const struct ynode *artifact_node(struct pp *p, size_t s, size_t a,
					 const char *key, size_t i)
{
	const struct ynode *l = ynode_map_get(action_node(p, s, a), key);

	return ynode_map_get(l->items[i], "name");
}

static int check_artifacts(struct pp *p)
{
	struct pipeline *pl = p->pl;

	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++) {
			struct pl_action *ac = &pl->stages[s].actions[a];

			for (size_t o = 0; o < ac->outputs.nr; o++) {
				size_t ps, pa;

				if (find_output(pl, ac->outputs.v[o], &ps,
						&pa) < 0 ||
				    (ps == s && pa == a))
					continue;
				return bad(p,
					   artifact_node(p, s, a,
							 "outputArtifacts", o),
					   "output artifact '%s' of '%s.%s' is "
					   "already the output of '%s.%s'",
					   ac->outputs.v[o], pl->stages[s].name,
					   ac->name, pl->stages[ps].name,
					   pl->stages[ps].actions[pa].name);
			}
			for (size_t i = 0; i < ac->nr_inputs; i++) {
				struct pl_input *in = &ac->inputs[i];

				if (find_output(pl, in->name, &in->stage,
						&in->action) < 0)
					return bad(p,
						   artifact_node(
							   p, s, a,
							   "inputArtifacts", i),
						   "input artifact '%s' of "
						   "'%s.%s' is not the output "
						   "of any action",
						   in->name, pl->stages[s].name,
						   ac->name);
				if (!runs_before(pl, in->stage, in->action, s,
						 a))
					return bad(
						p,
						artifact_node(p, s, a,
							      "inputArtifacts",
							      i),
						"input artifact '%s' of "
						"'%s.%s' is the output of "
						"'%s.%s', which does not run "
						"earlier",
						in->name, pl->stages[s].name,
						ac->name,
						pl->stages[in->stage].name,
						pl->stages[in->stage]
							.actions[in->action]
							.name);
			}
		}
	return 0;
}

/* The action whose namespace is ns: 0 and *ps, *pa, or -1. */
static int find_namespace(const struct pipeline *pl, const char *ns, size_t *ps,
			  size_t *pa)
{
	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++) {
			const char *n = pl->stages[s].actions[a].namespace;

			if (n && !strcmp(n, ns)) {
				*ps = s;
				*pa = a;
				return 0;
			}
		}
	return -1;
}

static int check_namespaces(struct pp *p)
{
	struct pipeline *pl = p->pl;

	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++) {
			const struct pl_action *ac = &pl->stages[s].actions[a];
			size_t ps, pa;

			if (!ac->namespace)
				continue;
			if (find_namespace(pl, ac->namespace, &ps, &pa) == 0 &&
			    (ps != s || pa != a))
				return bad(p,
					   ynode_map_get(action_node(p, s, a),
							 "namespace"),
					   "namespace '%s' of '%s.%s' is "
					   "already the namespace of '%s.%s'",
					   ac->namespace, pl->stages[s].name,
					   ac->name, pl->stages[ps].name,
					   pl->stages[ps].actions[pa].name);
			if (find_output(pl, ac->namespace, &ps, &pa) == 0)
				return bad(p,
					   ynode_map_get(action_node(p, s, a),
							 "namespace"),
					   "namespace '%s' of '%s.%s' is also "
					   "an artifact name",
					   ac->namespace, pl->stages[s].name,
					   ac->name);
		}
	return 0;
}

/* One "#{ns.key}" of a value of action (s, a), at n. */
static int check_ref(struct pp *p, size_t s, size_t a,
		     const struct plvar_ref *r, const struct ynode *n)
{
	struct pipeline *pl = p->pl;
	const struct pl_action *prod;
	const struct provider_info *info;
	size_t ps, pa;
	bool found = false;

	if (!strcmp(r->ns, PLVAR_CODEPIPELINE)) {
		if (strcmp(r->key, "PipelineExecutionId"))
			return bad(p, n,
				   "unknown variable '#{%s.%s}': the "
				   "codepipeline namespace has "
				   "PipelineExecutionId only",
				   r->ns, r->key);
		return 0;
	}
	if (!strcmp(r->ns, PLVAR_VARIABLES)) {
		for (size_t i = 0; i < pl->nr_variables; i++)
			found |= !strcmp(pl->variables[i].name, r->key);
		if (!found)
			return bad(p, n,
				   "unknown variable '#{%s.%s}': no pipeline "
				   "variable '%s' is declared",
				   r->ns, r->key, r->key);
		return 0;
	}
	if (find_namespace(pl, r->ns, &ps, &pa) < 0)
		return bad(p, n,
			   "unknown namespace in '#{%s.%s}': no action has "
			   "namespace '%s'",
			   r->ns, r->key, r->ns);
	prod = &pl->stages[ps].actions[pa];
	if (!runs_before(pl, ps, pa, s, a))
		return bad(p, n,
			   "'#{%s.%s}' refers to '%s.%s', which does not run "
			   "earlier",
			   r->ns, r->key, pl->stages[ps].name, prod->name);
	info = info_of(prod->provider);
	if (prod->provider == PL_COMMANDS) {
		if (strvec_find(&prod->output_variables, r->key) < 0)
			return bad(p, n,
				   "unknown variable '#{%s.%s}': '%s' is not "
				   "in the outputVariables of '%s.%s'",
				   r->ns, r->key, r->key, pl->stages[ps].name,
				   prod->name);
		return 0;
	}
	if (info->vars && !in_list(info->vars, r->key))
		return bad(p, n, "unknown variable '#{%s.%s}': a %s action %s",
			   r->ns, r->key, info->name,
			   info->vars[0] ? "does not output it"
					 : "outputs no variables");
	return 0;
}

static int check_value_refs(struct pp *p, size_t s, size_t a, const char *v,
			    const struct ynode *n)
{
	struct plvar_ref r;
	size_t pos = 0;
	int rc;

	while ((rc = plvar_next(v, &pos, &r)) > 0)
		if (check_ref(p, s, a, &r, n) < 0)
			return -1;
	if (rc < 0)
		return bad(p, n,
			   "malformed variable reference at '%.32s': "
			   "#{namespace.key}",
			   v + r.start);
	return 0;
}

static int check_variables(struct pp *p)
{
	struct pipeline *pl = p->pl;

	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++) {
			const struct pl_action *ac = &pl->stages[s].actions[a];
			const struct ynode *an = action_node(p, s, a), *env;

			for (size_t i = 0; i < ac->nr_config; i++)
				if (check_value_refs(
					    p, s, a, ac->config[i].value,
					    config_value_node(
						    p, s, a,
						    ac->config[i].key)) < 0)
					return -1;
			env = ynode_map_get(an, "environmentVariables");
			for (size_t i = 0; i < ac->nr_env; i++)
				if (check_value_refs(
					    p, s, a, ac->env[i].value,
					    ynode_map_get(env->items[i],
							  "value")) < 0)
					return -1;
		}
	return 0;
}

typedef int (*find_fn)(const struct pipeline *pl, const char *name);

static int find_source(const struct pipeline *pl, const char *name)
{
	for (size_t i = 0; i < pl->nr_sources; i++)
		if (!strcmp(pl->sources[i].name, name))
			return (int)i;
	return -1;
}

static int find_project(const struct pipeline *pl, const char *name)
{
	for (size_t i = 0; i < pl->nr_projects; i++)
		if (!strcmp(pl->projects[i].name, name))
			return (int)i;
	return -1;
}

static int find_group(const struct pipeline *pl, const char *name)
{
	for (size_t i = 0; i < pl->nr_groups; i++)
		if (!strcmp(pl->groups[i].name, name))
			return (int)i;
	return -1;
}

/*
 * The binding an action names, from two configuration keys (the second
 * NULL or joined with '/'). A name with a variable reference is bound
 * at run time, when it is known.
 */
static int bind(struct pp *p, size_t s, size_t a, const char *what,
		const char *k1, const char *k2, find_fn find,
		const char *section)
{
	struct pl_action *ac = &p->pl->stages[s].actions[a];
	const char *v1 = pl_action_config(ac, k1);
	const char *v2 = k2 ? pl_action_config(ac, k2) : NULL;
	char *name = v2 ? xasprintf("%s/%s", v1, v2) : xstrdup(v1);

	if (strstr(name, "#{")) {
		free(name);
		return 0;
	}
	ac->binding = find(p->pl, name);
	if (ac->binding < 0) {
		bad(p, config_value_node(p, s, a, k1),
		    "%s '%s' of '%s.%s' is not bound: add it under "
		    "'slipway.%s'",
		    what, name, p->pl->stages[s].name, ac->name, section);
		free(name);
		return -1;
	}
	free(name);
	return 0;
}

/* A CodeBuild action's buildspec, when its primary source is a local
 * directory: it must be there. */
static int check_buildspec(struct pp *p, size_t s, size_t a)
{
	struct pipeline *pl = p->pl;
	const struct pl_action *ac = &pl->stages[s].actions[a];
	const struct pl_project *pr = &pl->projects[ac->binding];
	const char *prim = pl_action_config(ac, "PrimarySource");
	const struct pl_input *in = &ac->inputs[0];
	const struct pl_action *src;
	const struct pl_binding *b;
	char *path;
	int ret = 0;

	for (size_t i = 0; prim && i < ac->nr_inputs; i++)
		if (!strcmp(ac->inputs[i].name, prim))
			in = &ac->inputs[i];
	src = &pl->stages[in->stage].actions[in->action];
	if (src->category != PL_SOURCE || src->binding < 0)
		return 0;
	b = &pl->sources[src->binding];
	if (b->url || !fs_is_dir(b->target))
		return 0;
	path = fs_join(b->target,
		       pr->buildspec ? pr->buildspec : "buildspec.yml");
	if (!fs_exists(path))
		ret = bad(p, config_value_node(p, s, a, "ProjectName"),
			  "project '%s' has no buildspec in source '%s': "
			  "'%s' is not there",
			  pr->name, b->name,
			  pr->buildspec ? pr->buildspec : "buildspec.yml");
	free(path);
	return ret;
}

/* A Commands action's SECRETS_MANAGER variables: a secret reference
 * each, and slipway.secrets-file to look them up in. */
static int check_secrets(struct pp *p, size_t s, size_t a)
{
	const struct pl_action *ac = &p->pl->stages[s].actions[a];
	const struct ynode *env =
		ynode_map_get(action_node(p, s, a), "environmentVariables");

	for (size_t i = 0; i < ac->nr_env; i++) {
		const struct ynode *it = env->items[i];
		char *id = NULL, *key = NULL, *stage = NULL, *ver = NULL;
		struct sw_err e = SW_ERR_INIT;
		int rc = 0;

		if (!ac->env[i].secret)
			continue;
		if (!p->pl->secrets_file)
			return bad(p, where(it, "type"),
				   "secret '%s' of '%s.%s' has no source of "
				   "secrets: add 'slipway.secrets-file'",
				   ac->env[i].name, p->pl->stages[s].name,
				   ac->name);
		if (!strstr(ac->env[i].value, "#{") &&
		    secrets_parse_ref(ac->env[i].value, &id, &key, &stage, &ver,
				      &e) < 0)
			rc = bad(p, where(it, "value"), "%s", e.msg);
		err_clear(&e);
		free(id);
		free(key);
		free(stage);
		free(ver);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* A CodeBuild action's PARAMETER_STORE and SECRETS_MANAGER variables
 * need a secrets file: its project's, else slipway.secrets-file. */
static int check_codebuild_secrets(struct pp *p, size_t s, size_t a)
{
	const struct pl_action *ac = &p->pl->stages[s].actions[a];

	if (!ac->secret_var ||
	    (ac->binding >= 0 && p->pl->projects[ac->binding].secrets_file) ||
	    p->pl->secrets_file)
		return 0;
	return bad(p, config_value_node(p, s, a, "EnvironmentVariables"),
		   "%s variable '%s' of '%s.%s' has no source of secrets: add "
		   "'secrets-file' to project '%s' or 'slipway.secrets-file'",
		   ac->secret_type, ac->secret_var, p->pl->stages[s].name,
		   ac->name, p->pl->projects[ac->binding].name);
}

static int check_bindings(struct pp *p)
{
	struct pipeline *pl = p->pl;

	for (size_t s = 0; s < pl->nr_stages; s++)
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++) {
			struct pl_action *ac = &pl->stages[s].actions[a];
			const char *arn;
			int rc = 0;

			switch (ac->provider) {
			case PL_CODECOMMIT:
				rc = bind(p, s, a, "source", "RepositoryName",
					  NULL, find_source, "sources");
				break;
			case PL_CODESTAR:
				rc = bind(p, s, a, "source", "FullRepositoryId",
					  NULL, find_source, "sources");
				break;
			case PL_GITHUB:
				rc = bind(p, s, a, "source", "Owner", "Repo",
					  find_source, "sources");
				break;
			case PL_S3:
				rc = bind(p, s, a, "source", "S3Bucket",
					  "S3ObjectKey", find_source,
					  "sources");
				if (!rc && ac->binding >= 0 &&
				    pl->sources[ac->binding].url)
					rc = bad(p,
						 config_value_node(p, s, a,
								   "S3Bucket"),
						 "S3 source '%s' must be bound "
						 "to a local file or "
						 "directory, not a git URL",
						 pl->sources[ac->binding].name);
				break;
			case PL_CODEBUILD:
				rc = bind(p, s, a, "project", "ProjectName",
					  NULL, find_project, "projects");
				if (!rc && ac->binding >= 0)
					rc = check_buildspec(p, s, a);
				if (!rc && ac->binding >= 0)
					rc = check_codebuild_secrets(p, s, a);
				break;
			case PL_CODEDEPLOY:
				rc = bind(p, s, a, "deployment group",
					  "ApplicationName",
					  "DeploymentGroupName", find_group,
					  "deployment-groups");
				break;
			case PL_MANUAL:
				arn = pl_action_config(ac, "NotificationArn");
				for (size_t i = 0;
				     arn && i < pl->nr_notifications; i++)
					if (!strcmp(pl->notifications[i].name,
						    arn))
						arn = NULL;
				if (arn)
					warnf(p,
					      config_value_node(
						      p, s, a,
						      "NotificationArn"),
					      "notification '%s' is not bound "
					      "under 'slipway.notifications': "
					      "nobody is told of this approval",
					      arn);
				break;
			case PL_COMMANDS:
				rc = check_secrets(p, s, a);
				break;
			case PL_COMMAND:
				break;
			}
			if (rc < 0)
				return -1;
		}
	return 0;
}

static int check_modes(struct pp *p)
{
	struct pipeline *pl = p->pl;

	if (p->v1 && pl->mode != PL_SUPERSEDED)
		return bad(p, p->mode_node,
			   "executionMode %s needs pipelineType V2",
			   mode_names[pl->mode]);
	for (size_t s = 0; s < pl->nr_stages; s++) {
		const struct ynode *f;

		if (pl->stages[s].on_failure != PL_ROLLBACK)
			continue;
		f = ynode_map_get(
			ynode_map_get(p->stages->items[s], "onFailure"),
			"result");
		if (pl->mode == PL_PARALLEL)
			return bad(p, f,
				   "stage '%s': onFailure ROLLBACK is not "
				   "possible in PARALLEL mode",
				   pl->stages[s].name);
		if (!s)
			return bad(p, f,
				   "stage '%s': a source stage cannot be "
				   "rolled back",
				   pl->stages[s].name);
	}
	return 0;
}

/* ---- the declaration and the file ---- */

static int parse_decl(struct pp *p, const struct ynode *m)
{
	static const char *const keys[] = { "name",	     "stages",
					    "executionMode", "variables",
					    "triggers",	     NULL };
	static const char *const aws[] = { "roleArn",	     "artifactStore",
					   "artifactStores", "version",
					   "pipelineType",   NULL };
	static const char *const types[] = { "V1", "V2" };
	struct pipeline *pl = p->pl;
	const struct ynode *st;
	size_t total = 0;
	int v;

	if (need_map(p, m, "pipeline") < 0)
		return -1;
	check_keys(p, m, "pipeline", keys, aws);
	if (get_name(p, m, "name", "pipeline.name", ".@_-", PL_MAX_NAME,
		     &pl->name) < 0)
		return -1;
	if (ynode_map_get(m, "pipelineType")) {
		v = get_enum(p, ynode_map_get(m, "pipelineType"),
			     "pipeline.pipelineType", types, 2);
		if (v < 0)
			return -1;
		p->v1 = v == 0;
	}
	p->mode_node = ynode_map_get(m, "executionMode");
	if (p->mode_node) {
		v = get_enum(p, p->mode_node, "pipeline.executionMode",
			     mode_names, ARRAY_SIZE(mode_names));
		if (v < 0)
			return -1;
		pl->mode = (enum pl_mode)v;
	}
	if (ynode_map_get(m, "variables") &&
	    parse_variables(p, ynode_map_get(m, "variables")) < 0)
		return -1;
	st = p->stages = ynode_map_get(m, "stages");
	if (!st)
		return bad(p, m, "'pipeline.stages' is required");
	if (st->type != YNODE_SEQ)
		return bad(p, st,
			   "'pipeline.stages' must be a sequence, not a %s",
			   ynode_kind(st));
	if (st->nr < PL_MIN_STAGES || st->nr > PL_MAX_STAGES)
		return bad(
			p, st,
			"'pipeline.stages' must hold %d to %d stages, not %zu",
			PL_MIN_STAGES, PL_MAX_STAGES, st->nr);
	pl->stages = xcalloc(st->nr, sizeof(*pl->stages));
	for (size_t s = 0; s < st->nr; s++) {
		pl->nr_stages++;
		if (parse_stage(p, st->items[s], s, &pl->stages[s]) < 0)
			return -1;
		total += pl->stages[s].nr_actions;
		if (total > PL_MAX_ACTIONS)
			return bad(p, st->items[s],
				   "a pipeline holds at most %d actions",
				   PL_MAX_ACTIONS);
	}
	if (check_sources(p) < 0)
		return -1;
	if (ynode_map_get(m, "triggers") &&
	    parse_triggers(p, ynode_map_get(m, "triggers")) < 0)
		return -1;
	return 0;
}

bool pipeline_sniff(const struct ynode *root)
{
	return root && root->type == YNODE_MAP &&
	       ynode_map_get(root, "pipeline");
}

static int parse_root(struct pp *p, const struct ynode *root)
{
	static const char *const keys[] = { "pipeline", "metadata", "slipway",
					    NULL };

	if (!pipeline_sniff(root))
		return bad(p, root,
			   "a pipeline file is a mapping with a 'pipeline' "
			   "key");
	check_keys(p, root, NULL, keys, NULL);
	if (parse_decl(p, ynode_map_get(root, "pipeline")) < 0 ||
	    parse_slipway(p, ynode_map_get(root, "slipway")) < 0 ||
	    check_artifacts(p) < 0 || check_namespaces(p) < 0 ||
	    check_variables(p) < 0 || check_bindings(p) < 0 ||
	    check_modes(p) < 0)
		return -1;
	if (p->aws_keys.nr) {
		struct strvec sv = STRVEC_INIT;
		char list[512] = "";

		for (size_t i = 0; i < p->aws_keys.nr; i++) {
			if (i)
				strncat(list, ", ",
					sizeof(list) - strlen(list) - 1);
			strncat(list, p->aws_keys.v[i],
				sizeof(list) - strlen(list) - 1);
		}
		ywarn(p->doc, p->aws_first, &sv, "AWS-only keys ignored: %s",
		      list);
		strvec_push(&p->pl->notes, sv.v[0]);
		strvec_release(&sv);
	}
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d, *abs;

	if (!slash)
		return fs_abspath(".");
	d = slash == path ? xstrdup("/")
			  : xstrndup(path, (size_t)(slash - path));
	abs = fs_abspath(d);
	free(d);
	return abs;
}

static int parse_doc(const char *name, const char *dir, const struct ydoc *doc,
		     struct pipeline *pl, struct sw_err *e)
{
	struct pp p = { .doc = doc, .pl = pl, .e = e };
	int ret = 0;

	pl->file = xstrdup(name);
	pl->dir = dir ? fs_abspath(dir) : dir_of(name);
	strvec_init(&pl->warnings);
	strvec_init(&pl->notes);
	strvec_init(&p.aws_keys);
	if (parse_root(&p, doc->root) < 0) {
		pipeline_release(pl);
		ret = -1;
	}
	strvec_release(&p.aws_keys);
	return ret;
}

int pipeline_parse(const char *name, const char *dir, const char *data,
		   size_t len, struct pipeline *pl, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	memset(pl, 0, sizeof(*pl));
	if (ydoc_load(name, data, len, &doc, e) < 0)
		return -1;
	ret = parse_doc(name, dir, &doc, pl, e);
	ydoc_release(&doc);
	return ret;
}

int pipeline_load(const char *path, struct pipeline *pl, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	memset(pl, 0, sizeof(*pl));
	if (ydoc_load_file(path, &doc, e) < 0)
		return -1;
	ret = parse_doc(path, NULL, &doc, pl, e);
	ydoc_release(&doc);
	return ret;
}

const char *pl_action_config(const struct pl_action *a, const char *key)
{
	for (size_t i = 0; i < a->nr_config; i++)
		if (!strcmp(a->config[i].key, key))
			return a->config[i].value;
	return NULL;
}

size_t pipeline_nr_actions(const struct pipeline *pl)
{
	size_t n = 0;

	for (size_t s = 0; s < pl->nr_stages; s++)
		n += pl->stages[s].nr_actions;
	return n;
}

static void patterns_release(struct pl_patterns *pt)
{
	strvec_release(&pt->includes);
	strvec_release(&pt->excludes);
}

static void filters_release(struct pl_filter *f, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		patterns_release(&f[i].branches);
		patterns_release(&f[i].tags);
		patterns_release(&f[i].file_paths);
	}
	free(f);
}

static void action_release(struct pl_action *a)
{
	free(a->name);
	free(a->owner);
	free(a->provider_name);
	free(a->version);
	for (size_t i = 0; i < a->nr_config; i++) {
		free(a->config[i].key);
		free(a->config[i].value);
	}
	free(a->config);
	for (size_t i = 0; i < a->nr_inputs; i++)
		free(a->inputs[i].name);
	free(a->inputs);
	strvec_release(&a->outputs);
	strvec_release(&a->files);
	free(a->namespace);
	free(a->secret_var);
	free(a->secret_type);
	strvec_release(&a->commands);
	strvec_release(&a->output_variables);
	for (size_t i = 0; i < a->nr_env; i++) {
		free(a->env[i].name);
		free(a->env[i].value);
	}
	free(a->env);
}

void pipeline_release(struct pipeline *pl)
{
	if (!pl)
		return;
	free(pl->file);
	free(pl->dir);
	free(pl->name);
	for (size_t s = 0; s < pl->nr_stages; s++) {
		for (size_t a = 0; a < pl->stages[s].nr_actions; a++)
			action_release(&pl->stages[s].actions[a]);
		free(pl->stages[s].actions);
		free(pl->stages[s].name);
	}
	free(pl->stages);
	for (size_t i = 0; i < pl->nr_variables; i++) {
		free(pl->variables[i].name);
		free(pl->variables[i].default_value);
		free(pl->variables[i].description);
	}
	free(pl->variables);
	for (size_t i = 0; i < pl->nr_triggers; i++) {
		free(pl->triggers[i].source_action);
		filters_release(pl->triggers[i].push, pl->triggers[i].nr_push);
		filters_release(pl->triggers[i].pull_request,
				pl->triggers[i].nr_pull_request);
	}
	free(pl->triggers);
	for (size_t i = 0; i < pl->nr_sources; i++) {
		free(pl->sources[i].name);
		free(pl->sources[i].target);
	}
	free(pl->sources);
	for (size_t i = 0; i < pl->nr_projects; i++) {
		struct pl_project *pr = &pl->projects[i];

		free(pr->name);
		free(pr->buildspec);
		strvec_release(&pr->env);
		free(pr->secrets_file);
		free(pr->isolation);
		strvec_release(&pr->runs_on);
	}
	free(pl->projects);
	for (size_t i = 0; i < pl->nr_groups; i++) {
		free(pl->groups[i].name);
		free(pl->groups[i].target);
	}
	free(pl->groups);
	for (size_t i = 0; i < pl->nr_notifications; i++) {
		free(pl->notifications[i].name);
		free(pl->notifications[i].command);
		free(pl->notifications[i].url);
	}
	free(pl->notifications);
	free(pl->webhook_secret_file);
	free(pl->secrets_file);
	for (size_t i = 0; i < pl->nr_statuses; i++) {
		free(pl->statuses[i].source);
		free(pl->statuses[i].forge);
		free(pl->statuses[i].api);
		free(pl->statuses[i].repository);
		free(pl->statuses[i].token_file);
		free(pl->statuses[i].context);
	}
	free(pl->statuses);
	strvec_release(&pl->warnings);
	strvec_release(&pl->unknown_keys);
	strvec_release(&pl->notes);
	memset(pl, 0, sizeof(*pl));
}
