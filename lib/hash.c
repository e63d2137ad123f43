#include "hash.h"

#include <errno.h>
#include <fcntl.h>
/*
 * The digests' own functions, not EVP: a first EVP digest initialises
 * OpenSSL 3's providers, about 0.7 ms of CPU in every process that hashes
 * (a build of a directory hashes its source); these need nothing set up
 * and run the same assembly. Deprecated in OpenSSL 3.0, not removed.
 * libcrypto is loaded the first time a digest starts (lazylib.h): about
 * 0.5 ms of CPU that a command hashing nothing does not pay.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <unistd.h>

#include "lazylib.h"
#include "xalloc.h"
#include "banned.h"

#define HASH_BUFSZ (64 * 1024)

union hash_state {
	SHA256_CTX sha256;
	MD5_CTX md5;
};

int hash_init(struct hash_ctx *h, enum hash_algo algo, struct sw_err *e)
{
	union hash_state *md;
	int ok;

	hash_release(h);
	if (lazylib_need("crypto", e) < 0)
		return -1;
	md = xmalloc(sizeof(*md));
	switch (algo) {
	case HASH_SHA256:
		ok = SHA256_Init(&md->sha256);
		break;
	case HASH_MD5:
		ok = MD5_Init(&md->md5);
		break;
	default:
		BUG("unknown hash algorithm %d", (int)algo);
	}
	if (!ok) {
		free(md);
		return err_set(e, ERR_SYSTEM, "hash: cannot initialise %s",
			       algo == HASH_MD5 ? "md5" : "sha256");
	}
	h->md = md;
	h->algo = algo;
	return 0;
}

int hash_update(struct hash_ctx *h, const void *data, size_t len,
		struct sw_err *e)
{
	union hash_state *md = h->md;
	int ok;

	if (!md)
		BUG("hash_update on an uninitialised context");
	if (!len)
		return 0;
	ok = h->algo == HASH_MD5 ? MD5_Update(&md->md5, data, len)
				 : SHA256_Update(&md->sha256, data, len);
	if (!ok)
		return err_set(e, ERR_SYSTEM, "hash: digest update failed");
	return 0;
}

int hash_final(struct hash_ctx *h, char *hex, struct sw_err *e)
{
	static const char digits[] = "0123456789abcdef";
	union hash_state *md = h->md;
	unsigned char raw[SHA256_DIGEST_LENGTH];
	unsigned int n;
	int ok;

	if (!md)
		BUG("hash_final on an uninitialised context");
	if (h->algo == HASH_MD5) {
		n = MD5_DIGEST_LENGTH;
		ok = MD5_Final(raw, &md->md5);
	} else {
		n = SHA256_DIGEST_LENGTH;
		ok = SHA256_Final(raw, &md->sha256);
	}
	if (!ok) {
		hash_release(h);
		return err_set(e, ERR_SYSTEM, "hash: digest final failed");
	}
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 0xf];
	}
	hex[2 * n] = '\0';
	hash_release(h);
	return 0;
}

void hash_release(struct hash_ctx *h)
{
	free(h->md);
	h->md = NULL;
}

int hash_buf(enum hash_algo algo, const void *data, size_t len, char *hex,
	     struct sw_err *e)
{
	struct hash_ctx h = HASH_CTX_INIT;
	int ret = -1;

	if (hash_init(&h, algo, e) < 0 || hash_update(&h, data, len, e) < 0 ||
	    hash_final(&h, hex, e) < 0)
		goto out;
	ret = 0;
out:
	hash_release(&h);
	return ret;
}

int hash_file_sha256(const char *path, char out[HASH_SHA256_HEX],
		     struct sw_err *e)
{
	return hash_file(path, out, NULL, e);
}

int hash_file(const char *path, char sha256[HASH_SHA256_HEX],
	      char md5[HASH_MD5_HEX], struct sw_err *e)
{
	struct hash_ctx hs = HASH_CTX_INIT, hm = HASH_CTX_INIT;
	unsigned char *buf = NULL;
	int fd = -1, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_sys(e, "open '%s'", path);
		goto out;
	}
	if ((sha256 && hash_init(&hs, HASH_SHA256, e) < 0) ||
	    (md5 && hash_init(&hm, HASH_MD5, e) < 0))
		goto out;
	buf = xmalloc(HASH_BUFSZ);
	for (;;) {
		ssize_t n = read(fd, buf, HASH_BUFSZ);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_sys(e, "read '%s'", path);
			goto out;
		}
		if (!n)
			break;
		if ((sha256 && hash_update(&hs, buf, (size_t)n, e) < 0) ||
		    (md5 && hash_update(&hm, buf, (size_t)n, e) < 0))
			goto out;
	}
	if ((sha256 && hash_final(&hs, sha256, e) < 0) ||
	    (md5 && hash_final(&hm, md5, e) < 0))
		goto out;
	ret = 0;
out:
	hash_release(&hs);
	hash_release(&hm);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}
