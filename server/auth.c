/*
 * auth: bearer tokens (auth.h).
 */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth.h"
#include "fs.h"
#include "xalloc.h"
#include "banned.h"

void auth_add(struct auth_tokens *t, const char *token, const char *name)
{
	struct auth_token *k;

	t->v = xrealloc(t->v, (t->nr + 1) * sizeof(*t->v));
	k = &t->v[t->nr++];
	SHA256((const unsigned char *)token, strlen(token), k->digest);
	k->name = xstrdup(name);
}

int auth_parse(struct auth_tokens *t, const char *name, const char *data,
	       size_t len, struct sw_err *e)
{
	size_t line = 0;

	for (size_t off = 0; off < len;) {
		const char *l = data + off, *nl = memchr(l, '\n', len - off);
		size_t n = nl ? (size_t)(nl - l) : len - off, tl, i;
		char *tok, *who;

		off += n + 1;
		line++;
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' ||
			     l[n - 1] == '\t'))
			n--;
		i = 0;
		while (i < n && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i == n || l[i] == '#')
			continue;
		tl = 0;
		while (i + tl < n && l[i + tl] != ' ' && l[i + tl] != '\t')
			tl++;
		if (tl < AUTH_MIN_TOKEN || tl > AUTH_MAX_TOKEN)
			return err_set(e, ERR_SPEC,
				       "%s:%zu:%zu: a token is %d to %d "
				       "characters",
				       name, line, i + 1, AUTH_MIN_TOKEN,
				       AUTH_MAX_TOKEN);
		for (size_t k = 0; k < tl; k++)
			if ((unsigned char)l[i + k] < 0x21 ||
			    (unsigned char)l[i + k] > 0x7e)
				return err_set(e, ERR_SPEC,
					       "%s:%zu:%zu: a token is "
					       "printable ASCII",
					       name, line, i + k + 1);
		tok = xstrndup(l + i, tl);
		i += tl;
		while (i < n && (l[i] == ' ' || l[i] == '\t'))
			i++;
		who = i < n ? xstrndup(l + i, n - i)
			    : xasprintf("token-%zu", line);
		auth_add(t, tok, who);
		OPENSSL_cleanse(tok, tl);
		free(tok);
		free(who);
	}
	if (!t->nr)
		return err_set(e, ERR_SPEC, "%s: no token in the file", name);
	return 0;
}

int auth_load(struct auth_tokens *t, const char *path, struct sw_err *e)
{
	char *data = NULL;
	size_t len = 0;
	int ret;

	if (fs_read_file(path, 1 << 20, &data, &len, e) < 0)
		return -1;
	ret = auth_parse(t, path, data, len, e);
	OPENSSL_cleanse(data, len);
	free(data);
	return ret;
}

const char *auth_check(const struct auth_tokens *t, const char *presented)
{
	unsigned char d[32];
	const char *who = NULL;

	if (!presented || !t)
		return NULL;
	SHA256((const unsigned char *)presented, strlen(presented), d);
	/* every digest is compared: the time does not say which matched */
	for (size_t i = 0; i < t->nr; i++)
		if (!CRYPTO_memcmp(d, t->v[i].digest, sizeof(d)) && !who)
			who = t->v[i].name;
	return who;
}

void auth_release(struct auth_tokens *t)
{
	for (size_t i = 0; i < t->nr; i++)
		free(t->v[i].name);
	free(t->v);
	t->v = NULL;
	t->nr = 0;
}

char *auth_generate(void)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
		"vwxyz0123456789-_";
	unsigned char r[32];
	char *s = xmalloc(44);
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0)
			BUG("getrandom failed");
		got += (size_t)n;
	}
	/* 6 bits a character: 43 characters hold the 256 bits */
	for (size_t i = 0; i < 43; i++) {
		size_t bit = i * 6, byte = bit / 8, sh = bit % 8;
		unsigned v = (unsigned)r[byte] << 8;

		if (byte + 1 < sizeof(r))
			v |= r[byte + 1];
		s[i] = b64[(v >> (10 - sh)) & 63];
	}
	s[43] = 0;
	OPENSSL_cleanse(r, sizeof(r));
	return s;
}
