/*
 * hash: sha256 and md5 digests as lowercase hex, over libcrypto.
 *
 *   struct hash_ctx h = HASH_CTX_INIT;
 *   char hex[HASH_HEX_MAX];
 *   if (hash_init(&h, HASH_SHA256, &e) < 0)
 *           return -1;
 *   while (more)
 *           if (hash_update(&h, data, len, &e) < 0)
 *                   goto out;
 *   if (hash_final(&h, hex, &e) < 0)    -- hex: 64 chars + NUL
 *           goto out;
 *   out:
 *   hash_release(&h);                   -- always; also after final
 *
 *   char sha[65], md5[33];
 *   if (hash_file(path, sha, md5, &e) < 0)    -- both digests, one read
 *           ...
 *
 * All functions return 0 or -1 with *e set: ERR_SYSTEM for libcrypto and
 * I/O failures ("read 'path': No such file or directory").
 */
#ifndef SW_HASH_H
#define SW_HASH_H

#include <stddef.h>

#include "err.h"

enum hash_algo { HASH_SHA256, HASH_MD5 };

#define HASH_SHA256_HEX 65 /* 64 hex digits + NUL */
#define HASH_MD5_HEX 33 /* 32 hex digits + NUL */
#define HASH_HEX_MAX HASH_SHA256_HEX

struct hash_ctx {
	void *md; /* the digest's state; NULL when not initialised */
	enum hash_algo algo;
};

#define HASH_CTX_INIT                                                          \
	{                                                                      \
		NULL, HASH_SHA256                                              \
	}

int hash_init(struct hash_ctx *h, enum hash_algo algo, struct sw_err *e);
int hash_update(struct hash_ctx *h, const void *data, size_t len,
		struct sw_err *e);
/* Writes the digest as lowercase hex to `hex` (HASH_SHA256_HEX or
 * HASH_MD5_HEX bytes). The context must be re-initialised for reuse. */
int hash_final(struct hash_ctx *h, char *hex, struct sw_err *e);
/* Free the context; safe on HASH_CTX_INIT and after a failure. */
void hash_release(struct hash_ctx *h);

/* One-shot digest of a memory buffer. */
int hash_buf(enum hash_algo algo, const void *data, size_t len, char *hex,
	     struct sw_err *e);

/* sha256 of a file's contents (follows symlinks). */
int hash_file_sha256(const char *path, char out[HASH_SHA256_HEX],
		     struct sw_err *e);

/* sha256 and md5 of a file in one read pass (64 KiB reads). Either output
 * may be NULL to skip that digest. */
int hash_file(const char *path, char sha256[HASH_SHA256_HEX],
	      char md5[HASH_MD5_HEX], struct sw_err *e);

#endif
