/*
 * libFuzzer harness for what the server parses before any token is
 * checked (server/http.h, server/login.h, server/auth.h): a request path
 * against the route patterns, a login form body, --listen values and a
 * tokens file.
 *
 * Input: byte 0 picks the parser, the rest is its input. Each must
 * answer without a crash, a leak or undefined behaviour, and keep its
 * promises: a capture is a whole segment (no '/') unless it is the
 * rest of the path; a form field decodes to no more bytes than it was;
 * a token that parsed is then accepted and a longer one is not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http.h"
#include "login.h"
#include "strvec.h"
#include "xalloc.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
	"/api/pipelines",
	"/api/pipelines/{}/executions",
	"/api/executions/{}/approve",
	"/a/{}/b/{}",
	"/files/*",
	"/executions/{}/artifacts/{}/*",
};

static void routes(const char *path)
{
	for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
		struct strvec caps = STRVEC_INIT;
		bool rest = patterns[i][strlen(patterns[i]) - 1] == '*';

		if (http_match(patterns[i], path, &caps)) {
			for (size_t k = 0; k < caps.nr; k++)
				if (!(rest && k == caps.nr - 1) &&
				    (strchr(caps.v[k], '/') || !*caps.v[k]))
					abort();
		} else if (caps.nr) {
			abort(); /* a failed match leaves no capture */
		}
		strvec_release(&caps);
	}
	http_local_path(path);
}

static void form(const char *body, size_t len)
{
	static const char *const names[] = { "token", "next", "csrf", "" };

	for (size_t i = 0; i < 4; i++) {
		char *v = login_form_field(body, len, names[i]);

		if (v && strlen(v) > len)
			abort();
		free(v);
	}
}

static void listen_value(const char *s)
{
	struct sw_err e = SW_ERR_INIT;
	char *addr = NULL;
	unsigned short port;

	if (http_parse_listen(s, &addr, &port, &e) == 0 && addr)
		http_is_loopback(addr);
	free(addr);
}

static void tokens(const char *text, size_t len)
{
	struct auth_tokens t = AUTH_TOKENS_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (auth_parse(&t, "tokens", text, len, &e) == 0) {
		/* the first token of the first line that holds one */
		const char *p = text;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
		       *p == '#') {
			if (*p == '#')
				p += strcspn(p, "\n");
			else
				p++;
		}
		{
			size_t n = strcspn(p, " \t\r\n");
			char *tok = xstrndup(p, n), *longer;

			if (!auth_check(&t, tok))
				abort();
			longer = xasprintf("%sx", tok);
			if (auth_check(&t, longer) &&
			    strcmp(auth_check(&t, longer),
				   auth_check(&t, tok)) == 0 &&
			    t.nr == 1)
				abort();
			free(tok);
			free(longer);
		}
	}
	auth_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	/* every parser here takes a C string: stop at a NUL as they do */
	s = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		routes(s);
		break;
	case 1:
		form(s, strlen(s));
		break;
	case 2:
		listen_value(s);
		break;
	case 3:
		tokens(s, strlen(s));
		break;
	}
	free(s);
	return 0;
}
