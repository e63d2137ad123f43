#include "resume.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "xalloc.h"
#include "banned.h"

static const struct {
	const char *key;
	size_t off;
} fields[] = {
#define F(k, m)                                                                \
	{                                                                      \
		k, offsetof(struct resume_rec, m)                              \
	}
	F("buildId", build_id),
	F("project", project),
	F("phase", phase),
	F("srcDir", src_dir),
	F("buildSrcDir", build_src),
	F("buildDir", build_dir),
	F("cwd", cwd),
	F("repoUrl", repo_url),
	F("sourceVersion", source_version),
	F("resolvedSourceVersion", resolved_source_version),
	F("buildspec", buildspec),
#undef F
};

static char **field(struct resume_rec *rec, size_t i)
{
	return (char **)((char *)rec + fields[i].off);
}

int resume_save(const char *build_dir, const struct resume_rec *rec,
		struct sw_err *e)
{
	json_object *o = json_object_new_object(), *env;
	char *dir = fs_join(build_dir, "phases");
	char *name = xasprintf("%s.json", rec->phase);
	char *path = fs_join(dir, name);
	const char *txt;
	int ret = -1;

	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *v = *field((struct resume_rec *)rec, i);

		if (v)
			json_object_object_add(o, fields[i].key,
					       json_object_new_string(v));
	}
	env = json_object_new_object();
	for (size_t i = 0; i < rec->env.nr; i++) {
		const char *eq = strchr(rec->env.v[i], '=');
		char *n;

		if (!eq)
			continue;
		n = xstrndup(rec->env.v[i], (size_t)(eq - rec->env.v[i]));
		json_object_object_add(env, n, json_object_new_string(eq + 1));
		free(n);
	}
	json_object_object_add(o, "env", env);
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (fs_mkdir_p(dir, 0700, e) == 0 &&
	    fs_replace(path, txt, strlen(txt), 0600, e) == 0)
		ret = 0;
	json_object_put(o);
	free(path);
	free(name);
	free(dir);
	return ret;
}

int resume_load(const char *build_dir, const char *phase,
		struct resume_rec *rec, struct sw_err *e)
{
	char *name = xasprintf("phases/%s.json", phase);
	char *path = fs_join(build_dir, name);
	char *data = NULL;
	size_t len;
	json_object *o = NULL, *env;
	int ret = -1;

	if (access(path, F_OK) < 0 && errno == ENOENT) {
		err_set(e, ERR_USAGE,
			"the build never started phase %s (no record of it in "
			"'%s')",
			phase, build_dir);
		goto out;
	}
	if (fs_read_file(path, 64 << 20, &data, &len, e) < 0)
		goto out;
	o = json_tokener_parse(data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		err_set(e, ERR_SPEC, "%s: not a phase record", path);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_object *v;

		if (json_object_object_get_ex(o, fields[i].key, &v) &&
		    json_object_is_type(v, json_type_string))
			*field(rec, i) = xstrdup(json_object_get_string(v));
	}
	if (!rec->src_dir || !rec->build_src || !rec->build_dir ||
	    !rec->project) {
		err_set(e, ERR_SPEC, "%s: not a phase record", path);
		goto out;
	}
	if (json_object_object_get_ex(o, "env", &env) &&
	    json_object_is_type(env, json_type_object)) {
		json_object_object_foreach(env, k, v)
		{
			if (json_object_is_type(v, json_type_string))
				strvec_pushf(&rec->env, "%s=%s", k,
					     json_object_get_string(v));
		}
	}
	ret = 0;
out:
	if (o)
		json_object_put(o);
	free(data);
	free(path);
	free(name);
	return ret;
}

void resume_rec_release(struct resume_rec *rec)
{
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		free(*field(rec, i));
		*field(rec, i) = NULL;
	}
	strvec_release(&rec->env);
}

char *resume_rebase(const char *s, const char *from, const char *to)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(from);
	const char *hit;

	if (!n)
		return xstrdup(s);
	while ((hit = strstr(s, from))) {
		buf_add(&b, s, (size_t)(hit - s));
		buf_addstr(&b, to);
		s = hit + n;
	}
	buf_addstr(&b, s);
	hit = buf_detach(&b);
	return hit ? (char *)hit : xstrdup("");
}
