/*
 * libFuzzer harness for the deployment group parser (and the yaml loader
 * under it): any input must give either a group that holds together or an
 * ERR_SPEC error naming the file, never a crash, a leak or undefined
 * behaviour.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n > max || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-") == n;
}

/* Absolute, no empty, "." or ".." component, no trailing slash. */
static int clean_abs(const char *s)
{
	if (s[0] != '/')
		return 0;
	if (!s[1])
		return 1;
	for (s++; *s;) {
		size_t len = strcspn(s, "/");

		if (!len || (len == 1 && s[0] == '.') ||
		    (len == 2 && !memcmp(s, "..", 2)))
			return 0;
		s += len;
		if (*s == '/' && !*++s)
			return 0;
	}
	return 1;
}

static void check_model(const struct group *g)
{
	struct dconfig c = DCONFIG_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (!g->application || !g->application[0] || !g->name || !g->name[0] ||
	    !name_ok(g->id, 128) || !g->config || !g->nr_hosts ||
	    strcmp(g->dir, "/srv/fuzz"))
		__builtin_trap();
	if (group_config(g, NULL, &c, &e) < 0 || strcmp(c.name, g->config))
		__builtin_trap();
	dconfig_release(&c);
	for (size_t i = 0; i < g->nr_hosts; i++) {
		const struct group_host *h = &g->hosts[i];

		/* With ssh, root is a directory on that host: absolute. */
		if (!name_ok(h->name, 64) || (h->root && !clean_abs(h->root)))
			__builtin_trap();
		if (h->ssh &&
		    (!h->ssh_host || !h->ssh_host[0] || h->ssh_host[0] == '-' ||
		     strchr(h->ssh_host, '/') || strchr(h->ssh_host, ' ') ||
		     h->ssh_port < 0 || h->ssh_port > 65535 ||
		     (h->ssh_user && !name_ok(h->ssh_user, 100))))
			__builtin_trap();
		if (!h->ssh && (h->ssh_host || h->ssh_user || h->ssh_port))
			__builtin_trap();
		for (size_t j = 0; j < i && j < 64; j++)
			if (!strcmp(g->hosts[j].name, h->name))
				__builtin_trap();
		for (size_t t = 0; t < h->tags.nr; t++)
			if (!strchr(h->tags.v[t], '=') ||
			    h->tags.v[t][0] == '=')
				__builtin_trap();
	}
	for (size_t i = 0; i < g->nr_configs; i++) {
		const struct dconfig *d = &g->configs[i];

		if (!strncmp(d->name, "CodeDeployDefault.", 18) ||
		    d->interval_ms < 0 ||
		    (d->kind != DCONFIG_MIN_HEALTHY &&
		     (d->percent < 1 || d->percent > 100)) ||
		    (d->kind == DCONFIG_MIN_HEALTHY &&
		     d->min_type == DCONFIG_FLEET_PERCENT &&
		     d->min_value > 100))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct group g = GROUP_INIT;
	struct sw_err e = SW_ERR_INIT;

	if (group_parse("fuzz.yml", "/srv/fuzz", (const char *)data, size, &g,
			&e) < 0) {
		if (e.code != ERR_SPEC || !e.msg[0] ||
		    strncmp(e.msg, "fuzz.yml:", 9) || g.file || g.hosts)
			__builtin_trap();
		return 0;
	}
	if (e.code)
		__builtin_trap();
	check_model(&g);
	group_release(&g);
	return 0;
}
