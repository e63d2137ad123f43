/*
 * Artifacts and logs from and to workers (see blobs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "blobs.h"
#include "fs.h"
#include "hash.h"
#include "http.h"
#include "serve.h"
#include "store.h"
#include "xalloc.h"
#include "banned.h"

static char *blob_path(struct serve *s, const char *hex, const char *suffix)
{
	char *name = xasprintf("blobs/%s%s", hex, suffix);
	char *p = fs_join(serve_state_dir(s), name);

	free(name);
	return p;
}

static bool digest_param(struct http_req *rq, const char **hex)
{
	*hex = http_param(rq, 0);
	if (blob_is_digest(*hex))
		return true;
	http_error(rq, 400, "InvalidRequestException",
		   "'%s' is not a sha256 digest (64 lowercase hex digits)",
		   *hex ? *hex : "");
	return false;
}

static bool number_query(struct http_req *rq, const char *name, long long *n)
{
	const char *v = http_query(rq, name);
	char *end;

	if (!v)
		return true;
	*n = strtoll(v, &end, 10);
	if (*v && !*end && *n >= 0)
		return true;
	http_error(rq, 400, "InvalidRequestException",
		   "'%s' wants a number of bytes, not '%s'", name, v);
	return false;
}

static void received(struct http_req *rq, int status, long long n,
		     bool complete)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "received", json_object_new_int64(n));
	json_object_object_add(o, "complete",
			       json_object_new_boolean(complete));
	http_reply_json(rq, status, o);
}

static void put_blob(struct http_req *rq, void *data)
{
	struct serve *s = data;
	struct sw_err e = SW_ERR_INIT;
	const char *hex, *body;
	char *final = NULL, *part = NULL, *dir = NULL;
	long long offset = 0, size = -1;
	char got[HASH_SHA256_HEX];
	struct stat sb, now;
	size_t len;
	int fd = -1;

	if (!digest_param(rq, &hex) || !number_query(rq, "offset", &offset) ||
	    !number_query(rq, "size", &size))
		return;
	body = http_body(rq, &len);
	final = blob_path(s, hex, "");
	part = blob_path(s, hex, ".part");
	dir = fs_join(serve_state_dir(s), "blobs");
	if (!stat(final, &sb)) {
		received(rq, 200, (long long)sb.st_size, true);
		goto out;
	}
	if (fs_mkdir_p(dir, 0755, &e) < 0)
		goto fail;
	fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &sb) < 0) {
		err_sys(&e, "%s", part);
		goto fail;
	}
	/*
	 * An upload of the same blob that held the lock first may have
	 * finished (its part is the blob now: never to be written again)
	 * or dropped its part (ours is then a file no one will find).
	 */
	if (!stat(final, &now)) {
		received(rq, 200, (long long)now.st_size, true);
		goto out;
	}
	if (stat(part, &now) < 0 || now.st_ino != sb.st_ino ||
	    now.st_dev != sb.st_dev) {
		received(rq, 409, 0, false);
		goto out;
	}
	if (offset == 0 && sb.st_size) {
		if (ftruncate(fd, 0) < 0) {
			err_sys(&e, "%s", part);
			goto fail;
		}
		sb.st_size = 0;
	}
	if (offset != (long long)sb.st_size) {
		received(rq, 409, (long long)sb.st_size, false);
		goto out;
	}
	if (size < 0)
		size = offset + (long long)len;
	if (offset + (long long)len > size) {
		http_error(rq, 400, "InvalidRequestException",
			   "a piece of %zu bytes at %lld goes past size %lld",
			   len, offset, size);
		goto out;
	}
	if (pwrite(fd, body, len, offset) != (ssize_t)len) {
		err_sys(&e, "%s", part);
		goto fail;
	}
	if (offset + (long long)len < size) {
		received(rq, 202, offset + (long long)len, false);
		goto out;
	}
	if (fsync(fd) < 0 || hash_file_sha256(part, got, &e) < 0) {
		if (!e.msg[0])
			err_sys(&e, "%s", part);
		goto fail;
	}
	if (strcmp(got, hex)) {
		unlink(part);
		http_error(rq, 422, "DigestMismatchException",
			   "the upload's sha256 is %s, not %s: dropped", got,
			   hex);
		goto out;
	}
	if (rename(part, final) < 0) {
		err_sys(&e, "rename '%s'", final);
		goto fail;
	}
	received(rq, 201, size, true);
	goto out;
fail:
	http_error(rq, 500, "InternalError", "%s", e.msg);
out:
	if (fd >= 0)
		close(fd);
	free(final);
	free(part);
	free(dir);
}

static void upload_state(struct http_req *rq, void *data)
{
	struct serve *s = data;
	const char *hex;
	char *final, *part;
	struct stat sb;

	if (!digest_param(rq, &hex))
		return;
	final = blob_path(s, hex, "");
	part = blob_path(s, hex, ".part");
	if (!stat(final, &sb))
		received(rq, 200, (long long)sb.st_size, true);
	else
		received(rq, 200, stat(part, &sb) ? 0 : (long long)sb.st_size,
			 false);
	free(final);
	free(part);
}

struct sendfile {
	int fd;
};

static ssize_t send_next(void *cls, char *buf, size_t max)
{
	struct sendfile *f = cls;
	ssize_t n;

	do
		n = read(f->fd, buf, max);
	while (n < 0 && errno == EINTR);
	return n < 0 ? HTTP_STREAM_ERROR : n == 0 ? HTTP_STREAM_END : n;
}

static void send_free(void *cls)
{
	struct sendfile *f = cls;

	close(f->fd);
	free(f);
}

/* One artifact packed at a time: its temporary file is named after the
 * process, so two downloads packing one tree at once would share it. */
static pthread_mutex_t pack_lock = PTHREAD_MUTEX_INITIALIZER;

static void get_blob(struct http_req *rq, void *data)
{
	struct serve *s = data;
	struct sw_err e = SW_ERR_INIT;
	const char *hex;
	char *path, *tree = NULL;
	char *dir = fs_join(serve_state_dir(s), "blobs");
	char sha[HASH_SHA256_HEX];
	struct sendfile *f;
	int fd, rc;

	if (!digest_param(rq, &hex)) {
		free(dir);
		return;
	}
	path = blob_path(s, hex, "");
	if (!fs_exists(path)) {
		char *rel = xasprintf("artifacts/%s", hex);

		tree = fs_join(serve_state_dir(s), rel);
		free(rel);
		free(path);
		path = blob_path(s, hex, ".tree.tar");
		if (fs_mkdir_p(dir, 0755, &e) < 0) {
			http_error(rq, 500, "InternalError", "%s", e.msg);
			goto out;
		}
		if (!fs_is_dir(tree)) {
			http_error(rq, 404, "ArtifactNotFoundException",
				   "no artifact '%s'", hex);
			goto out;
		}
		pthread_mutex_lock(&pack_lock);
		rc = fs_exists(path) ? 0 : blob_pack(tree, path, sha, &e);
		pthread_mutex_unlock(&pack_lock);
		if (rc < 0) {
			http_error(rq, 500, "InternalError", "%s", e.msg);
			goto out;
		}
	}
	if (hash_file_sha256(path, sha, &e) < 0) {
		http_error(rq, 500, "InternalError", "%s", e.msg);
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		http_error(rq, 404, "ArtifactNotFoundException",
			   "no artifact '%s'", hex);
		goto out;
	}
	f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	http_set_header(rq, "X-Slipway-Sha256", sha);
	http_stream(rq, 200, "application/x-tar", send_next, f, send_free);
out:
	free(path);
	free(tree);
	free(dir);
}

static void post_log(struct http_req *rq, void *data)
{
	struct serve *s = data;
	struct sw_err e = SW_ERR_INIT;
	const char *id = http_param(rq, 0), *owner = http_query(rq, "owner");
	struct store_job j = { 0 };
	json_object *spec = NULL, *x;
	struct store *st;
	const char *body, *log = NULL;
	size_t len, n;
	int rc, fd = -1;

	st = serve_store_get(s, &e);
	if (!st) {
		http_error(rq, 500, "InternalError", "%s", e.msg);
		return;
	}
	rc = store_job_get(st, id, &j, &e);
	serve_store_put(s, st);
	if (rc < 0) {
		http_error(rq, 500, "InternalError", "%s", e.msg);
		return;
	}
	if (rc == 1) {
		http_error(rq, 404, "JobNotFoundException", "no job '%s'", id);
		return;
	}
	if (strcmp(j.status, "claimed") || !owner || !j.owner ||
	    strcmp(owner, j.owner)) {
		http_error(rq, 409, "ConflictException",
			   "job '%s' is not held by '%s'", id,
			   owner ? owner : "");
		goto out;
	}
	spec = json_tokener_parse(j.spec);
	if (spec && json_object_object_get_ex(spec, "log", &x))
		log = json_object_get_string(x);
	n = strlen(serve_state_dir(s));
	if (!log || strncmp(log, serve_state_dir(s), n) || log[n] != '/' ||
	    strstr(log, "/../")) {
		http_error(rq, 409, "ConflictException",
			   "job '%s' has no log on this server", id);
		goto out;
	}
	body = http_body(rq, &len);
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0 || write(fd, body, len) != (ssize_t)len) {
		err_sys(&e, "%s", log);
		http_error(rq, 500, "InternalError", "%s", e.msg);
		goto out;
	}
	received(rq, 200, (long long)len, true);
out:
	if (fd >= 0)
		close(fd);
	json_object_put(spec);
	store_job_release(&j);
}

void blobs_routes(struct http_server *h, struct serve *s)
{
	http_route(h, "PUT", "/api/artifacts/{}", HTTP_API | HTTP_BODY,
		   put_blob, s);
	http_route(h, "GET", "/api/artifacts/{}/upload", HTTP_API, upload_state,
		   s);
	http_route(h, "GET", "/api/artifacts/{}", HTTP_API, get_blob, s);
	http_route(h, "POST", "/api/jobs/{}/log", HTTP_API | HTTP_BODY,
		   post_log, s);
}
