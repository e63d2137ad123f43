/*
 * status: the requests of commit statuses (status.h).
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pipeline.h"
#include "status.h"
#include "xalloc.h"
#include "banned.h"

static bool sha_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

/* At most max bytes of s, not cutting a UTF-8 sequence. */
static char *cut_utf8(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return xstrdup(s);
	n = max;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return xstrndup(s, n);
}

/* GitLab's :id is the project's path with every '/' as %2F. */
static void add_encoded(struct buf *b, const char *s)
{
	for (; *s; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s))
			buf_addch(b, *s);
		else
			buf_addf(b, "%%%02X", (unsigned char)*s);
}

char *status_record(const struct pl_status *st, const char *sha,
		    enum status_state state, const char *description,
		    const char *target_url)
{
	static const char *const hub[] = { "pending", "pending", "success",
					   "failure", "error" };
	static const char *const lab[] = { "pending", "running", "success",
					   "failed", "canceled" };
	bool gitlab = !strcmp(st->forge, "gitlab");
	json_object *rec, *body, *hs;
	struct buf url = BUF_INIT;
	char *desc, *out;

	if (!sha_ok(sha))
		return NULL;
	buf_addstr(&url, st->api);
	if (gitlab) {
		buf_addstr(&url, "/projects/");
		add_encoded(&url, st->repository);
	} else {
		buf_addf(&url, "/repos/%s", st->repository);
	}
	buf_addf(&url, "/statuses/%s", sha);

	body = json_object_new_object();
	json_object_object_add(
		body, "state",
		json_object_new_string(gitlab ? lab[state] : hub[state]));
	json_object_object_add(body, gitlab ? "name" : "context",
			       json_object_new_string(st->context));
	if (description) {
		desc = cut_utf8(description, STATUS_DESCRIPTION_MAX);
		json_object_object_add(body, "description",
				       json_object_new_string(desc));
		free(desc);
	}
	if (target_url)
		json_object_object_add(body, "target_url",
				       json_object_new_string(target_url));

	rec = json_object_new_object();
	json_object_object_add(rec, "url",
			       json_object_new_string(buf_cstr(&url)));
	json_object_object_add(
		rec, "body",
		json_object_new_string(json_object_to_json_string_ext(
			body, JSON_C_TO_STRING_PLAIN |
				      JSON_C_TO_STRING_NOSLASHESCAPE)));
	hs = json_object_new_array();
	json_object_array_add(
		hs, json_object_new_string(
			    !strcmp(st->forge, "github")
				    ? "Accept: application/vnd.github+json"
				    : "Accept: application/json"));
	if (!strcmp(st->forge, "github"))
		json_object_array_add(
			hs, json_object_new_string(
				    "X-GitHub-Api-Version: 2022-11-28"));
	json_object_object_add(rec, "headers", hs);
	json_object_object_add(
		rec, "auth",
		json_object_new_string(gitlab ? "PRIVATE-TOKEN: "
				       : !strcmp(st->forge, "github")
					       ? "Authorization: Bearer "
					       : "Authorization: token "));
	json_object_object_add(rec, "token-file",
			       json_object_new_string(st->token_file));
	if (gitlab)
		json_object_object_add(
			rec, "benign",
			json_object_new_string("Cannot transition status"));
	out = xstrdup(json_object_to_json_string_ext(
		rec, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(body);
	json_object_put(rec);
	buf_release(&url);
	return out;
}
