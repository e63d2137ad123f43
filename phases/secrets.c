#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json.h>

#include "buf.h"
#include "mask.h"
#include "xalloc.h"
#include "yaml.h"
#include "banned.h"

extern char **environ;

#define KIND_PARAM "parameter-store"
#define KIND_SECRET "secrets-manager"

/* Fields of an ARN that make up a secret id. */
#define ARN_ID_FIELDS 7

/* Length of the random suffix Secrets Manager puts on a name in an ARN. */
#define ARN_SUFFIX_LEN 6

void secrets_init(struct secrets *s)
{
	memset(s, 0, sizeof(*s));
}

static void table_release(struct secrets_table *t)
{
	strvec_release(&t->keys);
	strvec_release(&t->values);
}

static const char *table_get(const struct secrets_table *t, const char *key)
{
	long i = strvec_find(&t->keys, key);

	return i < 0 ? NULL : t->values.v[i];
}

static void table_set(struct secrets_table *t, const char *key,
		      const char *value)
{
	long i = strvec_find(&t->keys, key);

	if (i >= 0) {
		free(t->values.v[i]);
		t->values.v[i] = xstrdup(value);
		return;
	}
	strvec_push(&t->keys, key);
	strvec_push(&t->values, value);
}

/* Read one provider section of the file into t. */
static int load_section(const struct ydoc *doc, const struct ynode *key,
			const struct ynode *map, struct secrets_table *t,
			struct sw_err *e)
{
	size_t i;

	if (ynode_is_null(map))
		return 0;
	if (map->type != YNODE_MAP)
		return ydoc_err(doc, map, e, "'%s' must be a mapping, not a %s",
				key->value, ynode_kind(map));
	for (i = 0; i < map->nr; i++) {
		const struct ynode *k = map->keys[i], *v = map->items[i];

		if (k->type != YNODE_SCALAR)
			return ydoc_err(doc, k, e,
					"'%s' keys must be scalars, not a %s",
					key->value, ynode_kind(k));
		if (!k->len || strlen(k->value) != k->len)
			return ydoc_err(doc, k, e,
					"'%s' has an empty name or one "
					"with a NUL byte",
					key->value);
		if (v->type != YNODE_SCALAR)
			return ydoc_err(doc, v, e,
					"value of '%s' must be a scalar, "
					"not a %s",
					k->value, ynode_kind(v));
		if (ynode_is_null(v) && v->plain)
			return ydoc_err(doc, v, e,
					"value of '%s' is null (write '' for "
					"an empty value)",
					k->value);
		if (strlen(v->value) != v->len)
			return ydoc_err(doc, v, e,
					"value of '%s' contains a NUL byte",
					k->value);
		table_set(t, k->value, v->value);
	}
	return 0;
}

static int load_doc(struct secrets *s, const struct ydoc *doc, struct sw_err *e)
{
	struct secrets_table params = { 0 }, secrets = { 0 };
	const struct ynode *root = doc->root;
	int ret = -1;
	size_t i;

	if (!root || ynode_is_null(root))
		return 0;
	if (root->type != YNODE_MAP)
		return ydoc_err(doc, root, e,
				"the top level must be a mapping, not a %s",
				ynode_kind(root));
	for (i = 0; i < root->nr; i++) {
		const struct ynode *k = root->keys[i];
		struct secrets_table *t = NULL;

		if (k->type == YNODE_SCALAR && !strcmp(k->value, KIND_PARAM))
			t = &params;
		else if (k->type == YNODE_SCALAR &&
			 !strcmp(k->value, KIND_SECRET))
			t = &secrets;
		if (!t) {
			if (k->type == YNODE_SCALAR)
				ydoc_err(doc, k, e,
					 "unknown key '%s' (expected "
					 "'" KIND_PARAM "' or '" KIND_SECRET
					 "')",
					 k->value);
			else
				ydoc_err(doc, k, e,
					 "top-level keys must be scalars, not "
					 "a %s",
					 ynode_kind(k));
			goto out;
		}
		if (load_section(doc, k, root->items[i], t, e) < 0)
			goto out;
	}
	/* all or nothing: merge only a file that is valid throughout */
	for (i = 0; i < params.keys.nr; i++)
		table_set(&s->params, params.keys.v[i], params.values.v[i]);
	for (i = 0; i < secrets.keys.nr; i++)
		table_set(&s->secrets, secrets.keys.v[i], secrets.values.v[i]);
	ret = 0;
out:
	table_release(&params);
	table_release(&secrets);
	return ret;
}

int secrets_load_buffer(struct secrets *s, const char *name, const char *data,
			size_t len, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	if (ydoc_load(name, data, len, &doc, e) < 0)
		return -1;
	ret = load_doc(s, &doc, e);
	ydoc_release(&doc);
	return ret;
}

int secrets_load_file(struct secrets *s, const char *path, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	if (ydoc_load_file(path, &doc, e) < 0)
		return -1;
	ret = load_doc(s, &doc, e);
	ydoc_release(&doc);
	return ret;
}

void secrets_set_command(struct secrets *s, const char *cmd)
{
	free(s->command);
	s->command = xstrdup_or_null(cmd);
}

void secrets_set_mask(struct secrets *s, struct mask *m)
{
	s->mask = m;
}

/*
 * Run the provider command for one name. Returns 0 with *value set (the
 * caller's) when found, 0 with *value NULL when the command said it does
 * not exist, -1 on error.
 */
static int run_command(const struct secrets *s, const char *kind,
		       const char *name, char **value, struct sw_err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	struct buf out = BUF_INIT;
	char *script = xasprintf("%s \"$@\"", s->command);
	char *argv[] = { (char *)"sh", (char *)"-c", script, (char *)"sh",
			 (char *)kind, (char *)name, NULL };
	int fds[2] = { -1, -1 };
	bool overflow = false, failed = false;
	pid_t pid = -1;
	int status, rc, ret = -1;

	*value = NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		err_sys(e, "secrets command: pipe");
		goto out_free;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
#if defined(__GLIBC__) &&                                                      \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	/* the child gets stdin, stdout and stderr, nothing else */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	fds[1] = -1;
	if (rc) {
		errno = rc;
		pid = -1;
		err_sys(e, "secrets command: cannot run /bin/sh");
		goto out;
	}

	for (;;) {
		char tmp[8192];
		ssize_t n = read(fds[0], tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "secrets command: read");
			failed = true;
			kill(pid, SIGKILL);
			break;
		}
		if (!n)
			break;
		if (out.len + (size_t)n > SECRETS_COMMAND_MAX) {
			overflow = true;
			kill(pid, SIGKILL);
			break;
		}
		buf_add(&out, tmp, (size_t)n);
	}
	close(fds[0]);
	fds[0] = -1;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err_sys(e, "secrets command: waitpid");
			goto out;
		}
	}
	pid = -1;
	if (failed)
		goto out;
	if (overflow) {
		err_set(e, ERR_FAILED,
			"secrets command: output for %s '%s' is larger than "
			"%u bytes",
			kind, name, SECRETS_COMMAND_MAX);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		err_set(e, ERR_FAILED,
			"secrets command: killed by signal %d looking up %s "
			"'%s'",
			WTERMSIG(status), kind, name);
		goto out;
	}
	ret = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		goto out;
	if (out.len && out.ptr[out.len - 1] == '\n')
		buf_setlen(&out, out.len - 1);
	if (out.len && memchr(out.ptr, '\0', out.len)) {
		ret = err_set(e, ERR_FAILED,
			      "secrets command: value of %s '%s' contains a "
			      "NUL byte",
			      kind, name);
		goto out;
	}
	*value = buf_detach(&out);
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
out_free:
	buf_release(&out);
	free(script);
	return ret;
}

/*
 * Look a name up with the command, through the cache. *value points into
 * the cache, or is NULL when not found.
 */
static int command_lookup(struct secrets *s, struct secrets_table *cache,
			  const char *kind, const char *name,
			  const char **value, struct sw_err *e)
{
	char *v;

	*value = table_get(cache, name);
	if (*value || !s->command)
		return 0;
	if (run_command(s, kind, name, &v, e) < 0)
		return -1;
	if (v) {
		table_set(cache, name, v);
		free(v);
		*value = table_get(cache, name);
	}
	return 0;
}

static char *give(struct secrets *s, const char *v)
{
	if (s->mask)
		mask_add(s->mask, v);
	return xstrdup(v);
}

int secrets_get_parameter(struct secrets *s, const char *name, char **value,
			  struct sw_err *e)
{
	const char *v = table_get(&s->params, name);

	*value = NULL;
	if (!v &&
	    command_lookup(s, &s->cmd_params, KIND_PARAM, name, &v, e) < 0)
		return -1;
	if (!v)
		return err_set(e, ERR_FAILED, "parameter does not exist: %s",
			       name);
	*value = give(s, v);
	return 0;
}

int secrets_parse_ref(const char *ref, char **id, char **json_key,
		      char **version_stage, char **version_id, struct sw_err *e)
{
	char **parts[] = { json_key, version_stage, version_id };
	const char *p = ref, *rest = NULL;
	size_t i, colons = 0, want;

	*id = *json_key = *version_stage = *version_id = NULL;
	want = strncmp(ref, "arn:", 4) ? 1 : ARN_ID_FIELDS;
	for (p = ref; *p; p++)
		if (*p == ':' && ++colons == want)
			break;
	if (*p)
		rest = p + 1;
	if (p == ref)
		return err_set(e, ERR_SPEC,
			       "invalid secrets-manager reference '%s': "
			       "empty secret id",
			       ref);
	*id = xstrndup(ref, (size_t)(p - ref));
	for (i = 0; rest && i < ARRAY_SIZE(parts); i++) {
		const char *c = strchr(rest, ':');
		size_t n = c ? (size_t)(c - rest) : strlen(rest);

		if (n)
			*parts[i] = xstrndup(rest, n);
		rest = c ? c + 1 : NULL;
	}
	if (rest) {
		for (i = 0; i < ARRAY_SIZE(parts); i++) {
			free(*parts[i]);
			*parts[i] = NULL;
		}
		free(*id);
		*id = NULL;
		return err_set(e, ERR_SPEC,
			       "invalid secrets-manager reference '%s': "
			       "expected secret-id:json-key:version-stage:"
			       "version-id",
			       ref);
	}
	return 0;
}

/*
 * The ids to try for a secret: the id itself and, for an ARN, the name
 * in it, with and without the random suffix ("-AbCdEf").
 */
static void candidate_ids(const char *id, struct strvec *ids)
{
	const char *name = id;
	size_t i, len;

	strvec_push(ids, id);
	if (strncmp(id, "arn:", 4))
		return;
	for (i = 0; i < ARN_ID_FIELDS - 1 && name; i++) {
		name = strchr(name, ':');
		if (name)
			name++;
	}
	if (!name || !*name)
		return;
	strvec_push(ids, name);
	len = strlen(name);
	if (len > ARN_SUFFIX_LEN + 1 && name[len - ARN_SUFFIX_LEN - 1] == '-') {
		for (i = len - ARN_SUFFIX_LEN; i < len; i++)
			if (!((name[i] >= 'a' && name[i] <= 'z') ||
			      (name[i] >= 'A' && name[i] <= 'Z') ||
			      (name[i] >= '0' && name[i] <= '9')))
				return;
		strvec_push_nodup(ids,
				  xstrndup(name, len - ARN_SUFFIX_LEN - 1));
	}
}

/* Take key out of the JSON object in str; the result is the caller's. */
static int json_pick(const char *str, const char *key, const char *id,
		     char **value, struct sw_err *e)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj, *v = NULL;
	size_t len = strlen(str), end;
	int ret = -1;

	*value = NULL;
	if (len < (size_t)INT32_MAX)
		obj = json_tokener_parse_ex(tok, str, (int)len);
	else
		obj = NULL;
	end = json_tokener_get_parse_end(tok);
	while (obj && end < len && strchr(" \t\r\n", str[end]))
		end++;
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    end != len || !json_object_is_type(obj, json_type_object)) {
		err_set(e, ERR_FAILED,
			"secret %s is not a JSON object, cannot read key %s",
			id, key);
		goto out;
	}
	if (!json_object_object_get_ex(obj, key, &v)) {
		err_set(e, ERR_FAILED, "json key not found: %s in secret %s",
			key, id);
		goto out;
	}
	if (v && json_object_is_type(v, json_type_string)) {
		const char *sv = json_object_get_string(v);

		if (strlen(sv) != (size_t)json_object_get_string_len(v)) {
			err_set(e, ERR_FAILED,
				"value of json key %s in secret %s contains "
				"a NUL byte",
				key, id);
			goto out;
		}
		*value = xstrdup(sv);
	} else {
		*value = xstrdup(json_object_to_json_string_ext(
			v, JSON_C_TO_STRING_PLAIN |
				   JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	ret = 0;
out:
	json_object_put(obj);
	json_tokener_free(tok);
	return ret;
}

int secrets_get_secret(struct secrets *s, const char *ref, char **value,
		       struct sw_err *e)
{
	struct strvec ids = { 0 };
	char *id, *key, *stage, *version;
	const char *str = NULL;
	char *picked = NULL;
	int ret = -1;
	size_t i;

	*value = NULL;
	if (secrets_parse_ref(ref, &id, &key, &stage, &version, e) < 0)
		return -1;
	candidate_ids(id, &ids);

	/* an "id:json-key" entry of the file answers directly */
	for (i = 0; key && i < ids.nr; i++) {
		char *k = xasprintf("%s:%s", ids.v[i], key);

		str = table_get(&s->secrets, k);
		free(k);
		if (str) {
			*value = give(s, str);
			ret = 0;
			goto out;
		}
	}
	for (i = 0; !str && i < ids.nr; i++)
		str = table_get(&s->secrets, ids.v[i]);
	for (i = 0; !str && i < ids.nr; i++)
		if (command_lookup(s, &s->cmd_secrets, KIND_SECRET, ids.v[i],
				   &str, e) < 0)
			goto out;
	if (!str) {
		err_set(e, ERR_FAILED, "secret does not exist: %s", id);
		goto out;
	}
	if (!key) {
		*value = give(s, str);
		ret = 0;
		goto out;
	}
	if (json_pick(str, key, id, &picked, e) < 0)
		goto out;
	*value = give(s, picked);
	ret = 0;
out:
	free(picked);
	strvec_release(&ids);
	free(id);
	free(key);
	free(stage);
	free(version);
	return ret;
}

void secrets_release(struct secrets *s)
{
	table_release(&s->params);
	table_release(&s->secrets);
	table_release(&s->cmd_params);
	table_release(&s->cmd_secrets);
	free(s->command);
	secrets_init(s);
}
