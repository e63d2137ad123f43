/*
 * wclient: a worker's calls to its server (server/blobs.h) over libcurl.
 *
 *   struct wclient c;
 *   if (wclient_init(&c, "http://10.0.0.1:8080", "/etc/slipway/token", &e) < 0) ...
 *   wclient_put_blob(&c, "result.tar", hex, &e);   -- resumes where it stopped
 *   wclient_get_blob(&c, hex, "in.tar", &e);       -- checks X-Slipway-Sha256
 *   wclient_post_log(&c, job_id, worker, data, len, &e);
 *   wclient_release(&c);
 *
 * The token file holds the bearer token as its first word. Each call
 * returns 0 or -1 with *e set (ERR_SYSTEM: the transport or the answer,
 * "PUT /api/artifacts/..: 422 ..."); wclient_post_log returns 1 when the
 * server says the worker no longer holds the job (409).
 */
#ifndef SW_SERVER_WCLIENT_H
#define SW_SERVER_WCLIENT_H

#include <stddef.h>

#include "err.h"

struct wclient {
	char *base; /* without a final '/' */
	char *auth; /* "Authorization: Bearer ..." */
};

int wclient_init(struct wclient *c, const char *url, const char *token_file,
		 struct sw_err *e);
void wclient_release(struct wclient *c);
/* Upload the file as blob hex in pieces (WCLIENT_PIECE bytes). */
#define WCLIENT_PIECE (4 * 1024 * 1024)
int wclient_put_blob(struct wclient *c, const char *path, const char *hex,
		     struct sw_err *e);
/* Download blob (or artifact tree) hex to path, checking its digest. */
int wclient_get_blob(struct wclient *c, const char *hex, const char *path,
		     struct sw_err *e);
int wclient_post_log(struct wclient *c, const char *job, const char *owner,
		     const char *data, size_t len, struct sw_err *e);

#endif
