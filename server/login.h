/*
 * login: the form that turns a token into the slipway_token cookie the
 * pages accept (docs/serve.md "Auth"), plainly: the dashboard gives it
 * its look.
 *
 *   login_routes(h, &tokens);   -- GET and POST /login, POST /logout
 *
 * POST /login takes token= (and next=, a path on this server) as a form;
 * a good token is set as the cookie "slipway_token" (HttpOnly,
 * SameSite=Strict, Path=/) and the browser sent on to next (303); a bad
 * one gets the form again with 401.
 */
#ifndef SW_SERVER_LOGIN_H
#define SW_SERVER_LOGIN_H

#include <stddef.h>

struct http_server;
struct auth_tokens;

void login_routes(struct http_server *h, const struct auth_tokens *tokens);

/* Decode one application/x-www-form-urlencoded field of body (name=...)
 * into a new string, or NULL when absent. */
char *login_form_field(const char *body, size_t len, const char *name);

#endif
