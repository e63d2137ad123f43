/*
 * blobs: the routes that carry artifacts and logs between the server and
 * its workers (docs/scale.md "Artifacts and logs").
 *
 *   PUT  /api/artifacts/SHA256?offset=N&size=TOTAL   a piece of a blob
 *   GET  /api/artifacts/SHA256/upload                {"received": N}
 *   GET  /api/artifacts/SHA256                       the blob
 *   POST /api/jobs/ID/log?owner=WORKER               append to its log
 *
 * A blob is content-addressed: its name is the sha256 of its bytes. An
 * upload comes in pieces at increasing offsets into
 * <state>/blobs/SHA256.part (one upload of a digest at a time: the others
 * wait); a piece at another offset than what was received is 409 with
 * {"received": N}, from which the uploader resumes (offset 0 starts
 * again). The piece that reaches size has the whole checked: the digest
 * matches, and it becomes <state>/blobs/SHA256 (201), or it does not, and
 * the upload is dropped (422). Pieces before it are 202. A blob there
 * already is 200 at once. A GET of a digest that names no blob but a
 * pipeline artifact (<state>/artifacts/SHA256, by its tree hash) sends
 * that tree as a tar (pipeline/blob.h); every GET says the sha256 of
 * what it sends in X-Slipway-Sha256, so that the receiver checks too.
 *
 * A job's log is appended only for the worker that holds its lease, so a
 * worker whose job was taken back cannot write into the new attempt's
 * log (409).
 */
#ifndef SW_SERVER_BLOBS_H
#define SW_SERVER_BLOBS_H

struct http_server;
struct serve;

void blobs_routes(struct http_server *h, struct serve *s);

#endif
