/*
 * login: the token form and its cookie (login.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "html.h"
#include "http.h"
#include "login.h"
#include "xalloc.h"
#include "banned.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *login_form_field(const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t off = 0; off < len;) {
		const char *f = body + off, *amp = memchr(f, '&', len - off);
		size_t n = amp ? (size_t)(amp - f) : len - off;

		off += n + 1;
		if (n > nl && !memcmp(f, name, nl) && f[nl] == '=') {
			struct buf b = BUF_INIT;

			buf_addstr(&b, "");
			for (size_t i = nl + 1; i < n; i++) {
				int hi, lo;

				if (f[i] == '+') {
					buf_addch(&b, ' ');
				} else if (f[i] == '%' && i + 2 < n &&
					   (hi = hexval(f[i + 1])) >= 0 &&
					   (lo = hexval(f[i + 2])) >= 0) {
					buf_addch(&b, hi * 16 + lo);
					i += 2;
				} else {
					buf_addch(&b, f[i]);
				}
			}
			return buf_detach(&b);
		}
	}
	return NULL;
}

static void form(struct http_req *rq, int status, const char *next,
		 const char *msg)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
		       "<meta charset=\"utf-8\"><title>slipway: sign in"
		       "</title>\n<link rel=\"stylesheet\" "
		       "href=\"/static/dash.css\"></head>\n"
		       "<body class=\"login\">\n"
		       "<h1>slipway</h1>\n");
	if (msg) {
		buf_addstr(&b, "<p class=\"error\">");
		html_escape(&b, msg);
		buf_addstr(&b, "</p>\n");
	}
	buf_addstr(&b, "<form method=\"post\" action=\"/login\">\n"
		       "<label>Token <input type=\"password\" name=\"token\" "
		       "autocomplete=\"current-password\" required "
		       "autofocus></label>\n"
		       "<input type=\"hidden\" name=\"next\" value=\"");
	html_escape(&b, next && http_local_path(next) ? next : "/");
	buf_addstr(&b, "\">\n<button type=\"submit\">Sign in</button>\n"
		       "</form>\n</body></html>\n");
	http_set_header(rq, "Cache-Control", "no-store");
	http_set_header(rq, "Content-Security-Policy",
			"default-src 'none'; style-src 'self'; "
			"form-action 'self'; frame-ancestors 'none'");
	http_reply(rq, status, "text/html; charset=utf-8", b.ptr, b.len);
	buf_release(&b);
}

static void get_login(struct http_req *rq, void *data)
{
	(void)data;
	form(rq, 200, http_query(rq, "next"), NULL);
}

/* What a cookie value may hold (RFC 6265 cookie-octet). */
static bool cookie_safe(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == ',' ||
		    *s == ';' || *s == '\\')
			return false;
	return true;
}

static void post_login(struct http_req *rq, void *data)
{
	const struct auth_tokens *t = data;
	size_t len;
	const char *body = http_body(rq, &len);
	char *tok = login_form_field(body, len, "token");
	char *next = login_form_field(body, len, "next");
	char *cookie;

	if (!auth_check(t, tok)) {
		form(rq, 401, next, "That token is not valid.");
	} else if (!cookie_safe(tok)) {
		form(rq, 400, next,
		     "That token holds characters a cookie cannot keep; "
		     "send it in an Authorization header instead.");
	} else {
		cookie = xasprintf("slipway_token=%s; HttpOnly; "
				   "SameSite=Strict; Path=/",
				   tok);
		http_set_header(rq, "Set-Cookie", cookie);
		http_set_header(rq, "Cache-Control", "no-store");
		http_redirect(rq, next && http_local_path(next) ? next : "/");
		free(cookie);
	}
	free(tok);
	free(next);
}

static void post_logout(struct http_req *rq, void *data)
{
	(void)data;
	http_set_header(rq, "Set-Cookie",
			"slipway_token=; HttpOnly; SameSite=Strict; Path=/; "
			"Max-Age=0");
	http_redirect(rq, "/login");
}

void login_routes(struct http_server *h, const struct auth_tokens *tokens)
{
	http_route(h, "GET", "/login", HTTP_PUBLIC, get_login, NULL);
	http_route(h, "POST", "/login", HTTP_PUBLIC, post_login,
		   (void *)tokens);
	http_route(h, "POST", "/logout", HTTP_PUBLIC, post_logout, NULL);
}
