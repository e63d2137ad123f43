#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "xalloc.h"
#include "banned.h"

#define HASH_BUFSZ (64 * 1024)

static const EVP_MD *hash_md(enum hash_algo algo)
{
	switch (algo) {
	case HASH_SHA256:
		return EVP_sha256();
	case HASH_MD5:
		return EVP_md5();
	}
	BUG("unknown hash algorithm %d", (int)algo);
}

int hash_init(struct hash_ctx *h, enum hash_algo algo, struct sw_err *e)
{
	EVP_MD_CTX *md;

	hash_release(h);
	md = EVP_MD_CTX_new();
	if (!md)
		return err_set(e, ERR_SYSTEM, "hash: cannot allocate context");
	if (!EVP_DigestInit_ex(md, hash_md(algo), NULL)) {
		EVP_MD_CTX_free(md);
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
	if (!h->md)
		BUG("hash_update on an uninitialised context");
	if (len && !EVP_DigestUpdate(h->md, data, len))
		return err_set(e, ERR_SYSTEM, "hash: digest update failed");
	return 0;
}

int hash_final(struct hash_ctx *h, char *hex, struct sw_err *e)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!h->md)
		BUG("hash_final on an uninitialised context");
	if (!EVP_DigestFinal_ex(h->md, raw, &n)) {
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
	EVP_MD_CTX_free(h->md);
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
