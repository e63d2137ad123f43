/*
 * A worker's HTTP calls (see wclient.h).
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "wclient.h"
#include "xalloc.h"
#include "banned.h"

int wclient_init(struct wclient *c, const char *url, const char *token_file,
		 struct sw_err *e)
{
	char *data = NULL, *p;
	size_t len;

	memset(c, 0, sizeof(*c));
	if (fs_read_file(token_file, 4096, &data, &len, e) < 0)
		return -1;
	p = data + strspn(data, " \t\r\n");
	p[strcspn(p, " \t\r\n")] = 0;
	if (!*p) {
		free(data);
		return err_set(e, ERR_SPEC, "%s: no token in it", token_file);
	}
	c->auth = xasprintf("Authorization: Bearer %s", p);
	free(data);
	c->base = xstrdup(url);
	len = strlen(c->base);
	while (len && c->base[len - 1] == '/')
		c->base[--len] = 0;
	return 0;
}

void wclient_release(struct wclient *c)
{
	free(c->base);
	free(c->auth);
	memset(c, 0, sizeof(*c));
}

struct answer {
	struct buf body;
	char sha[HASH_SHA256_HEX];
	FILE *out; /* the body goes here when set */
};

static size_t on_body(char *p, size_t sz, size_t n, void *cls)
{
	struct answer *a = cls;

	if (a->out)
		return fwrite(p, sz, n, a->out);
	if (a->body.len + sz * n > 65536)
		return 0;
	buf_add(&a->body, p, sz * n);
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *cls)
{
	struct answer *a = cls;
	static const char h[] = "x-slipway-sha256:";

	if (sz * n > sizeof(h) + 64 && !strncasecmp(p, h, sizeof(h) - 1)) {
		const char *v = p + sizeof(h) - 1;

		v += strspn(v, " ");
		memcpy(a->sha, v, 64);
		a->sha[64] = 0;
	}
	return sz * n;
}

/* One request; *status the HTTP status. */
static int call(struct wclient *c, const char *method, const char *path,
		const void *body, size_t len, struct answer *a, long *status,
		struct sw_err *e)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hs = NULL;
	char *url = xasprintf("%s%s", c->base, path);
	CURLcode rc;

	hs = curl_slist_append(hs, c->auth);
	hs = curl_slist_append(hs, "Content-Type: application/octet-stream");
	hs = curl_slist_append(hs, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	if (strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(hs);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		err_set(e, ERR_SYSTEM, "%s %s: %s", method, url,
			curl_easy_strerror(rc));
		free(url);
		return -1;
	}
	free(url);
	return 0;
}

static long long received_of(struct answer *a)
{
	json_object *o = json_tokener_parse(a->body.ptr ? a->body.ptr : ""), *x;
	long long n = -1;

	if (o && json_object_object_get_ex(o, "received", &x))
		n = json_object_get_int64(x);
	json_object_put(o);
	return n;
}

int wclient_put_blob(struct wclient *c, const char *path, const char *hex,
		     struct sw_err *e)
{
	struct answer a = { .body = BUF_INIT };
	char *data = NULL, *rel;
	long long off = 0;
	long status = 0;
	size_t len;
	int ret = -1, tries = 0;

	if (fs_read_file(path, (size_t)1 << 34, &data, &len, e) < 0)
		return -1;
	/* resume an upload an earlier attempt left */
	rel = xasprintf("/api/artifacts/%s/upload", hex);
	if (call(c, "GET", rel, NULL, 0, &a, &status, e) == 0 &&
	    status == 200 && received_of(&a) > 0 &&
	    received_of(&a) <= (long long)len)
		off = received_of(&a);
	free(rel);
	err_clear(e);
	for (;;) {
		size_t n = len - (size_t)off < WCLIENT_PIECE ? len - (size_t)off
							     : WCLIENT_PIECE;

		buf_setlen(&a.body, 0);
		rel = xasprintf("/api/artifacts/%s?offset=%lld&size=%zu", hex,
				off, len);
		if (call(c, "PUT", rel, data + off, n, &a, &status, e) < 0) {
			free(rel);
			goto out;
		}
		free(rel);
		if (status == 200 || status == 201)
			break;
		if (status == 202) {
			off += (long long)n;
			continue;
		}
		if (status == 409 && ++tries < 5 && received_of(&a) >= 0 &&
		    received_of(&a) <= (long long)len) {
			off = received_of(&a);
			continue;
		}
		err_set(e, ERR_SYSTEM, "PUT /api/artifacts/%s: %ld %s", hex,
			status, a.body.ptr ? a.body.ptr : "");
		goto out;
	}
	ret = 0;
out:
	buf_release(&a.body);
	free(data);
	return ret;
}

int wclient_get_blob(struct wclient *c, const char *hex, const char *path,
		     struct sw_err *e)
{
	struct answer a = { .body = BUF_INIT };
	char *tmp = fs_tmp_name(path), *rel;
	char got[HASH_SHA256_HEX];
	long status = 0;
	int ret = -1;

	a.out = fopen(tmp, "we");
	if (!a.out) {
		err_sys(e, "%s", tmp);
		goto out;
	}
	rel = xasprintf("/api/artifacts/%s", hex);
	ret = call(c, "GET", rel, NULL, 0, &a, &status, e);
	free(rel);
	if (fclose(a.out) != 0 && ret == 0)
		ret = err_sys(e, "%s", tmp);
	if (ret < 0)
		goto out;
	ret = -1;
	if (status != 200) {
		err_set(e, ERR_SYSTEM, "GET /api/artifacts/%s: %ld", hex,
			status);
		goto out;
	}
	if (hash_file_sha256(tmp, got, e) < 0)
		goto out;
	if (strcmp(got, a.sha)) {
		err_set(e, ERR_SYSTEM,
			"GET /api/artifacts/%s: received sha256 %s, the server "
			"said %s",
			hex, got, a.sha);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		err_sys(e, "rename '%s'", path);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	buf_release(&a.body);
	return ret;
}

int wclient_post_log(struct wclient *c, const char *job, const char *owner,
		     const char *data, size_t len, struct sw_err *e)
{
	struct answer a = { .body = BUF_INIT };
	char *rel = xasprintf("/api/jobs/%s/log?owner=%s", job, owner);
	long status = 0;
	int ret;

	ret = call(c, "POST", rel, data, len, &a, &status, e);
	free(rel);
	if (ret == 0 && status == 409)
		ret = 1;
	else if (ret == 0 && status != 200)
		ret = err_set(e, ERR_SYSTEM, "POST log of job %s: %ld", job,
			      status);
	buf_release(&a.body);
	return ret;
}
