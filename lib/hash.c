#include "hash.h"

#include <errno.h>
#include <fcntl.h>
/*
 * The digests' own functions, not EVP: a first EVP digest initialises
 * OpenSSL 3's providers, about 0.7 ms of CPU in every process that hashes;
 * these need nothing set up and run the same assembly. Deprecated in
 * OpenSSL 3.0, not removed.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lazylib.h"
#include "xalloc.h"
#include "banned.h"

#define HASH_BUFSZ (64 * 1024)

/*
 * Loading libcrypto costs about 0.5 ms of CPU (17,000 relocations), more
 * than SHA-256 of the few bytes most processes hash (a build of a small
 * directory hashes its source): it is loaded when called (LAZY_LIBS), and
 * SHA-256 starts here, in plain C, handing its state over to libcrypto's
 * (SHA-NI or AVX2, several times faster) once a process has hashed
 * HASH_OWN_MAX bytes here. MD5 is libcrypto's only.
 */
#define HASH_OWN_MAX (64 * 1024)

static uint64_t own_bytes; /* hashed here by this process */

struct sha256_own {
	uint32_t h[8];
	uint64_t blocks; /* 64-byte blocks done */
	unsigned char buf[64];
	size_t n; /* bytes in buf */
};

union hash_state {
	SHA256_CTX sha256;
	MD5_CTX md5;
	struct sha256_own own;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void own_block(struct sha256_own *c, const unsigned char *p)
{
	uint32_t w[64], a, b, cc, d, e, f, g, h;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] +
		       (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
			(w[i - 15] >> 3)) +
		       w[i - 7] +
		       (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
			(w[i - 2] >> 10));
	a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
	e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
	for (i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			      ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			      ((a & b) ^ (a & cc) ^ (b & cc));

		h = g, g = f, f = e, e = d + t1;
		d = cc, cc = b, b = a, a = t1 + t2;
	}
	c->h[0] += a, c->h[1] += b, c->h[2] += cc, c->h[3] += d;
	c->h[4] += e, c->h[5] += f, c->h[6] += g, c->h[7] += h;
	c->blocks++;
}

static void own_init(struct sha256_own *c)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372,
					0xa54ff53a, 0x510e527f, 0x9b05688c,
					0x1f83d9ab, 0x5be0cd19 };

	memcpy(c->h, iv, sizeof(iv));
	c->blocks = 0;
	c->n = 0;
}

static void own_update(struct sha256_own *c, const unsigned char *p, size_t len)
{
	if (c->n) {
		size_t k = 64 - c->n < len ? 64 - c->n : len;

		memcpy(c->buf + c->n, p, k);
		c->n += k, p += k, len -= k;
		if (c->n < 64)
			return;
		own_block(c, c->buf);
		c->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		own_block(c, p);
	memcpy(c->buf, p, len);
	c->n = len;
}

static void own_final(struct sha256_own *c, unsigned char out[32])
{
	uint64_t bits = (c->blocks * 64 + c->n) * 8;
	unsigned char pad[72] = { 0x80 };
	size_t k = (c->n < 56 ? 56 : 120) - c->n;

	for (int i = 0; i < 8; i++)
		pad[k + i] = (unsigned char)(bits >> (56 - 8 * i));
	own_update(c, pad, k + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

/* The state so far, as libcrypto's: its whole blocks, then its rest. */
static int own_hand_over(union hash_state *md)
{
	struct sha256_own c = md->own;
	uint64_t bits = c.blocks * 64 * 8;

	if (!SHA256_Init(&md->sha256))
		return 0;
	memcpy(md->sha256.h, c.h, sizeof(c.h));
	md->sha256.Nl = (SHA_LONG)bits;
	md->sha256.Nh = (SHA_LONG)(bits >> 32);
	return SHA256_Update(&md->sha256, c.buf, c.n);
}

int hash_init(struct hash_ctx *h, enum hash_algo algo, struct sw_err *e)
{
	union hash_state *md;
	int ok = 1;

	hash_release(h);
	if ((algo == HASH_MD5 || own_bytes >= HASH_OWN_MAX) &&
	    lazylib_need("crypto", e) < 0)
		return -1;
	md = xmalloc(sizeof(*md));
	switch (algo) {
	case HASH_SHA256:
		if (own_bytes < HASH_OWN_MAX) {
			own_init(&md->own);
			h->own = 1;
		} else {
			ok = SHA256_Init(&md->sha256);
			h->own = 0;
		}
		break;
	case HASH_MD5:
		ok = MD5_Init(&md->md5);
		h->own = 0;
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
	if (h->own && own_bytes + len <= HASH_OWN_MAX) {
		own_update(&md->own, data, len);
		own_bytes += len;
		return 0;
	}
	if (h->own) {
		if (lazylib_need("crypto", e) < 0)
			return -1;
		if (!own_hand_over(md))
			return err_set(e, ERR_SYSTEM,
				       "hash: digest update failed");
		h->own = 0;
		/* later contexts start in libcrypto */
		own_bytes = HASH_OWN_MAX;
	}
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
	int ok = 1;

	if (!md)
		BUG("hash_final on an uninitialised context");
	if (h->algo == HASH_MD5) {
		n = MD5_DIGEST_LENGTH;
		ok = MD5_Final(raw, &md->md5);
	} else {
		n = SHA256_DIGEST_LENGTH;
		if (h->own)
			own_final(&md->own, raw);
		else
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
