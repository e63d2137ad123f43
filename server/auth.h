/*
 * auth: the bearer tokens of `slipway serve` (docs/serve.md "Auth").
 *
 *   struct auth_tokens t = AUTH_TOKENS_INIT;
 *   if (auth_load(&t, "/etc/slipway/tokens", &e) < 0)
 *           ... ERR_SPEC "tokens:3:1: a token is at least 16 characters"
 *   const char *who = auth_check(&t, presented);   -- NULL: refused
 *   auth_release(&t);
 *
 * The file has one token a line, optionally followed by white space and
 * a name (who approvals are recorded as; default "token-N", N its line);
 * blank lines and lines starting with '#' are skipped. A token is 16 to
 * 256 printable ASCII characters without spaces. Only SHA-256 digests
 * of the tokens are kept, and auth_check() compares the digest of what
 * it is given with every one of them in constant time, so neither the
 * length nor the content of a token leaks through timing.
 */
#ifndef SW_SERVER_AUTH_H
#define SW_SERVER_AUTH_H

#include <stddef.h>

#include "err.h"

#define AUTH_MIN_TOKEN 16
#define AUTH_MAX_TOKEN 256

struct auth_token {
	unsigned char digest[32];
	char *name;
};

struct auth_tokens {
	struct auth_token *v;
	size_t nr;
};

#define AUTH_TOKENS_INIT                                                       \
	{                                                                      \
		NULL, 0                                                        \
	}

/* Read a tokens file (a file with no token is an error). */
int auth_load(struct auth_tokens *t, const char *path, struct sw_err *e);
/* The same from memory; name is used in messages. */
int auth_parse(struct auth_tokens *t, const char *name, const char *data,
	       size_t len, struct sw_err *e);
/* Add one token (for a generated one). */
void auth_add(struct auth_tokens *t, const char *token, const char *name);
/* The name of the token, or NULL (also for NULL). */
const char *auth_check(const struct auth_tokens *t, const char *presented);
void auth_release(struct auth_tokens *t);

/* A new random token: 43 characters of base64url (256 bits). */
char *auth_generate(void);

#endif
