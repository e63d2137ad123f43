#include "group.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "suggest.h"
#include "hash.h"
#include "xalloc.h"
#include "yaml.h"
#include "banned.h"

#define MAX_NAME 100 /* application, deployment group, config names */
#define MAX_HOST_NAME 64
#define MAX_ID 128
#define MAX_HOST_COUNT 1000000U
#define MAX_DURATION_MS (30LL * 24 * 3600 * 1000) /* 30 days */
#define CUSTOM_PREFIX "CodeDeployDefault."

static const char *const builtin_names[] = { "CodeDeployDefault.OneAtATime",
					     "CodeDeployDefault.HalfAtATime",
					     "CodeDeployDefault.AllAtOnce" };

static const char *const feb_names[] = { NULL, "DISALLOW", "OVERWRITE",
					 "RETAIN" };

/* The parse in progress. */
struct gp {
	const struct ydoc *doc;
	struct group *g;
	struct sw_err *e;
	const char *hosts_key; /* the host list being read; NULL: "hosts" */
};

#define bad(p, n, ...) ydoc_err((p)->doc, (n), (p)->e, __VA_ARGS__)

#define warnf(p, n, ...) ywarn((p)->doc, (n), &(p)->g->warnings, __VA_ARGS__)

/* Warn about an unknown key, with a hint when only its case is wrong or
 * '_' was written for '-'. */
static void unknown_key(struct gp *p, const struct ynode *k, const char *where,
			const char *const *known, size_t nr_known)
{
	const char *s = NULL;

	for (size_t i = 0; i < nr_known; i++) {
		bool same = k->len == strlen(known[i]);

		for (size_t j = 0; same && j < k->len; j++) {
			char a = k->value[j], b = known[i][j];

			if (a == '_')
				a = '-';
			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			same = a == b;
		}
		if (same) {
			s = known[i];
			break;
		}
	}
	if (!s)
		s = suggest_closest(k->value, k->len, known, nr_known);
	if (s)
		warnf(p, k,
		      "unknown key '%s'%s%s%s ignored (did you mean '%s'?)",
		      yshown(k).s, where ? " in '" : "", where ? where : "",
		      where ? "'" : "", s);
	else
		warnf(p, k, "unknown key '%s'%s%s%s ignored", yshown(k).s,
		      where ? " in '" : "", where ? where : "",
		      where ? "'" : "");
	strvec_push(&p->g->unknown_keys,
		    p->g->warnings.v[p->g->warnings.nr - 1]);
}

/* The key node of name in mapping m, or NULL. */
static const struct ynode *key_of(const struct ynode *m, const char *name)
{
	if (!m || m->type != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < m->nr; i++)
		if (ykey_is(m->keys[i], name))
			return m->keys[i];
	return NULL;
}

/* Where to point for a missing or empty value: the value, its key, or the
 * mapping. */
static const struct ynode *where(const struct ynode *m, const char *name)
{
	const struct ynode *v = ynode_map_get(m, name);

	if (v && !(ynode_is_null(v) && !v->len))
		return v;
	v = key_of(m, name);
	return v ? v : m;
}

/* [A-Za-z0-9._-], 1 to max, neither "." nor "..". */
static bool name_ok(const char *s, size_t len, size_t max)
{
	if (!len || len > max || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

static bool has_ctrl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* A string scalar, set or NULL for a null value. */
static int get_str(struct gp *p, const struct ynode *n, const char *path,
		   char **out)
{
	free(*out);
	*out = NULL;
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR)
		return bad(p, n, "'%s' must be a string, not a %s", path,
			   ynode_kind(n));
	if (ynode_has_nul(n))
		return bad(p, n, "'%s' must not contain a NUL character", path);
	*out = xstrdup(n->value);
	return 0;
}

/* A required single-line string of 1 to MAX_NAME characters. */
static int get_name(struct gp *p, const struct ynode *m, const char *key,
		    char **out)
{
	const struct ynode *v = ynode_map_get(m, key);

	if (get_str(p, v, key, out) < 0)
		return -1;
	if (!*out || !**out)
		return bad(p, where(m, key), "'%s' is required: a name", key);
	if (strlen(*out) > MAX_NAME || has_ctrl(*out, strlen(*out)))
		return bad(p, v,
			   "invalid %s (%s): 1 to %d characters, no control "
			   "characters",
			   key, yshown(v).s, MAX_NAME);
	return 0;
}

static int get_bool(struct gp *p, const struct ynode *n, const char *path,
		    bool *out)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR || ynode_bool(n, out) < 0)
		return bad(
			p, n, "'%s' must be a boolean (true or false), not %s",
			path,
			n->type == YNODE_SCALAR ? yshown(n).s : ynode_kind(n));
	return 0;
}

/* The whole number 0 to max, in decimal digits, under key of mapping m. */
static int get_uint(struct gp *p, const struct ynode *m, const char *key,
		    const char *path, unsigned max, unsigned *out)
{
	const struct ynode *n = ynode_map_get(m, key);
	unsigned long v = 0;

	if (ynode_is_null(n))
		return bad(p, where(m, key), "'%s' is required: a whole number",
			   path);
	if (n->type != YNODE_SCALAR)
		return bad(p, n, "'%s' must be a whole number, not a %s", path,
			   ynode_kind(n));
	for (size_t i = 0; i < n->len; i++) {
		char c = n->value[i];

		if (c < '0' || c > '9')
			return bad(p, n,
				   "'%s' must be a whole number from 0 to %u, "
				   "not %s",
				   path, max, yshown(n).s);
		if (v <= max)
			v = v * 10 + (unsigned long)(c - '0');
	}
	if (v > max)
		return bad(p, n, "'%s' must be at most %u, not %s", path, max,
			   yshown(n).s);
	*out = (unsigned)v;
	return 0;
}

/*
 * "30s", "10m", "2h", "1h30m", "1m30s", or bare digits = seconds. Returns
 * 0 and *ms, or -1.
 */
static int parse_duration(const char *s, size_t len, int64_t *ms)
{
	int64_t total = 0;
	size_t i = 0;
	int last = 4; /* units must come h, m, s: each at most once */

	if (!len)
		return -1;
	while (i < len) {
		int64_t v = 0, unit;
		size_t start = i;
		int rank;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (v <= MAX_DURATION_MS)
				v = v * 10 + (s[i] - '0');
			i++;
		}
		if (i == start)
			return -1;
		if (i == len) {
			if (start)
				return -1; /* "1h30": which unit? */
			unit = 1000;
			rank = 0;
		} else {
			switch (s[i++]) {
			case 'h':
				unit = 3600000;
				rank = 3;
				break;
			case 'm':
				unit = 60000;
				rank = 2;
				break;
			case 's':
				unit = 1000;
				rank = 1;
				break;
			default:
				return -1;
			}
		}
		if (rank >= last)
			return -1;
		last = rank;
		if (v > MAX_DURATION_MS / unit)
			return -2;
		total += v * unit;
		if (total > MAX_DURATION_MS)
			return -2;
	}
	*ms = total;
	return 0;
}

static int get_duration(struct gp *p, const struct ynode *m, const char *key,
			const char *path, int64_t *ms)
{
	const struct ynode *v = ynode_map_get(m, key);
	int rc;

	if (ynode_is_null(v))
		return bad(p, where(m, key),
			   "'%s' is required: a duration such as 30s, 10m, "
			   "1h30m",
			   path);
	if (v->type != YNODE_SCALAR)
		return bad(p, v, "'%s' must be a duration, not a %s", path,
			   ynode_kind(v));
	rc = parse_duration(v->value, v->len, ms);
	if (rc == -2)
		return bad(p, v, "'%s' is too long (%s): at most 720h", path,
			   yshown(v).s);
	if (rc < 0)
		return bad(p, v,
			   "'%s' is not a duration (%s): write 30s, 10m, 2h, "
			   "1h30m or a number of seconds",
			   path, yshown(v).s);
	return 0;
}

/* ---- hosts ---- */

static void host_release(struct group_host *h)
{
	free(h->name);
	free(h->root);
	free(h->ssh);
	free(h->ssh_user);
	free(h->ssh_host);
	free(h->target);
	strvec_release(&h->tags);
	memset(h, 0, sizeof(*h));
}

/* "[user@]host[:port]"; host may be "[v6 address]". */
static int parse_ssh(struct gp *p, const struct ynode *n, const char *path,
		     struct group_host *h)
{
	const char *s = h->ssh, *at, *host, *end, *port = NULL;
	size_t hlen;

	at = strchr(s, '@');
	if (at) {
		if (!name_ok(s, (size_t)(at - s), MAX_NAME) || s[0] == '-')
			return bad(p, n,
				   "'%s' has an invalid user (%s): use "
				   "letters, digits, '.', '_' and '-'",
				   path, yshown(n).s);
		h->ssh_user = xstrndup(s, (size_t)(at - s));
		host = at + 1;
	} else {
		host = s;
	}
	if (*host == '[') {
		end = strchr(host, ']');
		if (!end)
			return bad(p, n,
				   "'%s' has no ']' after its address (%s)",
				   path, yshown(n).s);
		host++;
		hlen = (size_t)(end - host);
		end++;
		if (*end == ':')
			port = end + 1;
		else if (*end)
			return bad(p, n,
				   "'%s' has text after its address (%s): "
				   "write [user@]host[:port]",
				   path, yshown(n).s);
	} else {
		end = strchr(host, ':');
		hlen = end ? (size_t)(end - host) : strlen(host);
		if (end)
			port = end + 1;
	}
	if (!hlen)
		return bad(p, n,
			   "'%s' has no host name (%s): write "
			   "[user@]host[:port]",
			   path, yshown(n).s);
	if (host[0] == '-')
		return bad(p, n, "'%s' host must not start with '-' (%s)", path,
			   yshown(n).s);
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= ' ' || c == 0x7f || c == '/' || c == '@' || c == '[' ||
		    c == ']' || c == '\\' || c == '\'' || c == '"')
			return bad(p, n,
				   "'%s' has an invalid host name (%s): no "
				   "spaces, quotes, '/' or '@'",
				   path, yshown(n).s);
	}
	h->ssh_host = xstrndup(host, hlen);
	if (port) {
		unsigned long v = 0;
		size_t plen = strlen(port);

		if (!plen || plen > 5 || strspn(port, "0123456789") != plen)
			goto bad_port;
		v = strtoul(port, NULL, 10);
		if (!v || v > 65535)
			goto bad_port;
		h->ssh_port = (int)v;
	}
	return 0;
bad_port:
	return bad(p, n, "'%s' has an invalid port (%s): 1 to 65535", path,
		   yshown(n).s);
}

static int parse_tags(struct gp *p, const struct ynode *n, const char *path,
		      struct group_host *h)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'%s' must be a mapping of names to values, "
			   "not a %s",
			   path, ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];

		if (!k->len || ynode_has_nul(k) ||
		    memchr(k->value, '=', k->len) || has_ctrl(k->value, k->len))
			return bad(p, k,
				   "'%s' has an invalid tag name (%s): not "
				   "empty, no '=' or control characters",
				   path, yshown(k).s);
		if (ynode_is_null(v) && !v->len) {
			strvec_pushf(&h->tags, "%s=", k->value);
			continue;
		}
		if (v->type != YNODE_SCALAR)
			return bad(p, v, "'%s.%s' must be a string, not a %s",
				   path, yshown(k).s, ynode_kind(v));
		if (ynode_has_nul(v))
			return bad(p, v,
				   "'%s.%s' must not contain a NUL character",
				   path, yshown(k).s);
		strvec_pushf(&h->tags, "%s=%s", k->value, v->value);
	}
	return 0;
}

/* "addr:port": a name or IPv4 address without spaces, a port 1-65535. */
static bool target_ok(const char *s, unsigned *port)
{
	const char *colon = strrchr(s, ':');
	unsigned long v = 0;

	if (!colon || colon == s || !colon[1] || strlen(colon + 1) > 5)
		return false;
	for (const char *c = s; c < colon; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ||
		      *c == '_'))
			return false;
	for (const char *c = colon + 1; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		v = v * 10 + (unsigned long)(*c - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	if (port)
		*port = (unsigned)v;
	return true;
}

static int check_target(struct gp *p, const struct ynode *v, const char *path,
			const char *s)
{
	if (!target_ok(s, NULL))
		return bad(p, v,
			   "'%s' must be address:port (127.0.0.1:28081), not "
			   "'%s'",
			   path, s);
	return 0;
}

static int parse_host(struct gp *p, const struct ynode *n, size_t idx)
{
	static const char *const known[] = { "name", "root", "ssh", "tags",
					     "target" };
	struct group_host h = { .line = n->line, .col = n->col };
	const struct ynode *v;
	char path[96], sub[192];

	strvec_init(&h.tags);
	h.replacement = p->hosts_key != NULL;
	snprintf(path, sizeof(path), "%s[%zu]",
		 p->hosts_key ? p->hosts_key : "hosts", idx);
	if (n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping with 'name', not a %s",
			   path, ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];

		v = n->items[i];
		snprintf(sub, sizeof(sub), "%s.%s", path, yshown(k).s);
		if (ykey_is(k, "name")) {
			if (get_str(p, v, sub, &h.name) < 0)
				goto fail;
		} else if (ykey_is(k, "root")) {
			if (get_str(p, v, sub, &h.root) < 0)
				goto fail;
		} else if (ykey_is(k, "ssh")) {
			if (get_str(p, v, sub, &h.ssh) < 0)
				goto fail;
		} else if (ykey_is(k, "tags")) {
			if (parse_tags(p, v, sub, &h) < 0)
				goto fail;
		} else if (ykey_is(k, "target")) {
			if (get_str(p, v, sub, &h.target) < 0 ||
			    (h.target && check_target(p, v, sub, h.target) < 0))
				goto fail;
		} else {
			unknown_key(p, k, path, known, ARRAY_SIZE(known));
		}
	}
	v = ynode_map_get(n, "name");
	if (!h.name || !*h.name) {
		bad(p, where(n, "name"), "'%s' has no name: a host needs one",
		    path);
		goto fail;
	}
	if (!name_ok(h.name, strlen(h.name), MAX_HOST_NAME)) {
		bad(p, v,
		    "invalid host name '%s' in '%s': 1 to %d letters, digits, "
		    "'.', '_' and '-'",
		    yshown(v).s, path, MAX_HOST_NAME);
		goto fail;
	}
	if (h.root && h.ssh && h.root[0] != '/') {
		bad(p, ynode_map_get(n, "root"),
		    "'%s.root' must be an absolute path: with 'ssh' it is a "
		    "directory on the remote host",
		    path);
		goto fail;
	}
	if (h.root) {
		char *joined;

		v = ynode_map_get(n, "root");
		snprintf(sub, sizeof(sub), "%s.root", path);
		if (!*h.root) {
			bad(p, key_of(n, "root"),
			    "'%s' is empty: leave it out for a rehearsal host",
			    sub);
			goto fail;
		}
		if (has_ctrl(h.root, strlen(h.root))) {
			bad(p, v, "'%s' must not contain control characters",
			    sub);
			goto fail;
		}
		joined = h.root[0] == '/' || h.ssh
				 ? xstrdup(h.root)
				 : xasprintf("%s/%s", p->g->dir, h.root);
		free(h.root);
		h.root = fs_abspath(joined);
		free(joined);
	}
	if (h.ssh) {
		v = ynode_map_get(n, "ssh");
		snprintf(sub, sizeof(sub), "%s.ssh", path);
		if (!*h.ssh) {
			bad(p, key_of(n, "ssh"),
			    "'%s' is empty: write [user@]host[:port]", sub);
			goto fail;
		}
		if (parse_ssh(p, v, sub, &h) < 0)
			goto fail;
	}
	ALLOC_GROW(p->g->hosts, p->g->nr_hosts + 1, p->g->alloc_hosts);
	p->g->hosts[p->g->nr_hosts++] = h;
	return 0;
fail:
	host_release(&h);
	return -1;
}

static int cmp_host_idx(const void *a, const void *b, void *arg)
{
	const struct group_host *hosts = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(hosts[i].name, hosts[j].name);

	if (c)
		return c;
	return i < j ? -1 : i > j;
}

/* Host names are unique: the first repeated one (in file order) is the
 * error, naming the line of the host it repeats. */
static int check_unique(struct gp *p, const struct ynode *list)
{
	struct group *g = p->g;
	size_t *ix = xcalloc(g->nr_hosts, sizeof(*ix));
	size_t dup = SIZE_MAX, orig = 0;

	for (size_t i = 0; i < g->nr_hosts; i++)
		ix[i] = i;
	qsort_r(ix, g->nr_hosts, sizeof(*ix), cmp_host_idx, g->hosts);
	for (size_t i = 1; i < g->nr_hosts; i++)
		if (!strcmp(g->hosts[ix[i]].name, g->hosts[ix[i - 1]].name) &&
		    (i < 2 ||
		     strcmp(g->hosts[ix[i]].name, g->hosts[ix[i - 2]].name)) &&
		    ix[i] < dup) {
			dup = ix[i];
			orig = ix[i - 1];
		}
	free(ix);
	if (dup == SIZE_MAX)
		return 0;
	return bad(p, where(list->items[dup], "name"),
		   "duplicate host name '%s' in 'hosts[%zu]': 'hosts[%zu]' on "
		   "line %d has it already",
		   g->hosts[dup].name, dup, orig, g->hosts[orig].line);
}

static int parse_hosts(struct gp *p, const struct ynode *root)
{
	const struct ynode *n = ynode_map_get(root, "hosts");

	if (ynode_is_null(n))
		return bad(p, where(root, "hosts"),
			   "'hosts' is required: a list of at least one host "
			   "(- name: web-1)");
	if (n->type != YNODE_SEQ)
		return bad(p, n,
			   "'hosts' must be a sequence of hosts, not a %s",
			   ynode_kind(n));
	if (!n->nr)
		return bad(p, n,
			   "'hosts' is empty: at least one host is needed");
	for (size_t i = 0; i < n->nr; i++)
		if (parse_host(p, n->items[i], i) < 0)
			return -1;
	return check_unique(p, n);
}

/* ---- deployment configs ---- */

static int parse_min_healthy(struct gp *p, const struct ynode *n,
			     const char *path, struct dconfig *c)
{
	static const char *const known[] = { "type", "value" };
	const struct ynode *t = ynode_map_get(n, "type");
	char sub[160];

	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'%s' must be a mapping {type: HOST_COUNT or "
			   "FLEET_PERCENT, value: N}, not a %s",
			   path, ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++)
		if (!ykey_is(n->keys[i], "type") &&
		    !ykey_is(n->keys[i], "value"))
			unknown_key(p, n->keys[i], path, known,
				    ARRAY_SIZE(known));
	c->kind = DCONFIG_MIN_HEALTHY;
	if (ynode_is_null(t))
		return bad(p, where(n, "type"),
			   "'%s.type' is required: HOST_COUNT or "
			   "FLEET_PERCENT",
			   path);
	if (t->type == YNODE_SCALAR && ykey_is(t, "HOST_COUNT"))
		c->min_type = DCONFIG_HOST_COUNT;
	else if (t->type == YNODE_SCALAR && ykey_is(t, "FLEET_PERCENT"))
		c->min_type = DCONFIG_FLEET_PERCENT;
	else
		return bad(p, t,
			   "'%s.type' must be HOST_COUNT or FLEET_PERCENT, "
			   "not %s",
			   path,
			   t->type == YNODE_SCALAR ? yshown(t).s
						   : ynode_kind(t));
	snprintf(sub, sizeof(sub), "%s.value", path);
	return get_uint(p, n, "value", sub,
			c->min_type == DCONFIG_FLEET_PERCENT ? 100
							     : MAX_HOST_COUNT,
			&c->min_value);
}

/* canary {percent, bake, health} and linear {percent, interval, health} */
static int parse_step(struct gp *p, const struct ynode *n, const char *path,
		      bool canary, struct dconfig *c)
{
	static const char *const canary_known[] = { "percent", "bake",
						    "health" };
	static const char *const linear_known[] = { "percent", "interval",
						    "health" };
	const char *wait = canary ? "bake" : "interval";
	const struct ynode *v;
	char sub[160];

	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'%s' must be a mapping {percent: P, %s: D}, not "
			   "a %s",
			   path, wait, ynode_kind(n));
	c->kind = canary ? DCONFIG_CANARY : DCONFIG_LINEAR;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];

		if (!ykey_is(k, "percent") && !ykey_is(k, wait) &&
		    !ykey_is(k, "health"))
			unknown_key(p, k, path,
				    canary ? canary_known : linear_known, 3);
	}
	snprintf(sub, sizeof(sub), "%s.percent", path);
	if (get_uint(p, n, "percent", sub, 100, &c->percent) < 0)
		return -1;
	if (!c->percent)
		return bad(p, ynode_map_get(n, "percent"),
			   "'%s' must be from 1 to 100, not 0", sub);
	snprintf(sub, sizeof(sub), "%s.%s", path, wait);
	if (get_duration(p, n, wait, sub, &c->interval_ms) < 0)
		return -1;
	v = ynode_map_get(n, "health");
	snprintf(sub, sizeof(sub), "%s.health", path);
	if (get_str(p, v, sub, &c->health) < 0)
		return -1;
	if (c->health && !*c->health)
		return bad(p, key_of(n, "health"),
			   "'%s' is empty: leave it out or give a command",
			   sub);
	return 0;
}

static int parse_config(struct gp *p, const struct ynode *k,
			const struct ynode *n)
{
	static const char *const known[] = { "minimum-healthy-hosts", "canary",
					     "linear" };
	struct dconfig c = DCONFIG_INIT;
	const struct ynode *kind_k = NULL;
	char path[160];

	if (ynode_has_nul(k) || !name_ok(k->value, k->len, MAX_NAME))
		return bad(p, k,
			   "invalid deployment config name '%s': 1 to %d "
			   "letters, digits, '.', '_' and '-'",
			   yshown(k).s, MAX_NAME);
	if (!strncmp(k->value, CUSTOM_PREFIX, strlen(CUSTOM_PREFIX)))
		return bad(p, k,
			   "deployment config name '%s' must not start with "
			   "'" CUSTOM_PREFIX "' (reserved for the built-in "
			   "ones)",
			   yshown(k).s);
	snprintf(path, sizeof(path), "deployment-configs.%s", yshown(k).s);
	if (ynode_is_null(n) || n->type != YNODE_MAP)
		return bad(p, ynode_is_null(n) && !n->len ? k : n,
			   "'%s' must be a mapping with one of "
			   "minimum-healthy-hosts, canary or linear",
			   path);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *ck = n->keys[i];

		if (!ykey_is(ck, known[0]) && !ykey_is(ck, known[1]) &&
		    !ykey_is(ck, known[2])) {
			unknown_key(p, ck, path, known, ARRAY_SIZE(known));
			continue;
		}
		if (kind_k)
			return bad(p, ck,
				   "'%s' has both '%s' and '%s': a config is "
				   "one of minimum-healthy-hosts, canary or "
				   "linear",
				   path, kind_k->value, ck->value);
		kind_k = ck;
	}
	if (!kind_k)
		return bad(p, k,
			   "'%s' needs one of minimum-healthy-hosts, canary or "
			   "linear",
			   path);
	c.name = xstrdup(k->value);
	{
		const struct ynode *v = ynode_map_get(n, kind_k->value);
		char sub[200];
		int rc;

		snprintf(sub, sizeof(sub), "%s.%s", path, kind_k->value);
		if (ynode_is_null(v) && !v->len)
			rc = bad(p, kind_k,
				 "'%s' is empty: it needs its settings", sub);
		else if (ykey_is(kind_k, known[0]))
			rc = parse_min_healthy(p, v, sub, &c);
		else
			rc = parse_step(p, v, sub, ykey_is(kind_k, "canary"),
					&c);
		if (rc < 0) {
			free(c.name);
			free(c.health);
			return -1;
		}
	}
	ALLOC_GROW(p->g->configs, p->g->nr_configs + 1, p->g->alloc_configs);
	p->g->configs[p->g->nr_configs++] = c;
	return 0;
}

static int parse_configs(struct gp *p, const struct ynode *n)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'deployment-configs' must be a mapping of names "
			   "to configs, not a %s",
			   ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++)
		if (parse_config(p, n->keys[i], n->items[i]) < 0)
			return -1;
	return 0;
}

static const struct dconfig *find_custom(const struct group *g,
					 const char *name)
{
	for (size_t i = 0; i < g->nr_configs; i++)
		if (!strcmp(g->configs[i].name, name))
			return &g->configs[i];
	return NULL;
}

static bool is_builtin(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtin_names); i++)
		if (!strcmp(name, builtin_names[i]))
			return true;
	return false;
}

static int parse_config_name(struct gp *p, const struct ynode *root)
{
	const struct ynode *v = ynode_map_get(root, "deployment-config");
	struct group *g = p->g;

	if (get_str(p, v, "deployment-config", &g->config) < 0)
		return -1;
	if (!g->config) {
		g->config = xstrdup(builtin_names[0]);
		return 0;
	}
	if (!*g->config)
		return bad(p, key_of(root, "deployment-config"),
			   "'deployment-config' is empty: leave it out for "
			   "CodeDeployDefault.OneAtATime");
	if (find_custom(g, g->config) || is_builtin(g->config))
		return 0;
	return bad(p, v,
		   "unknown deployment config '%s': use "
		   "CodeDeployDefault.OneAtATime, HalfAtATime, AllAtOnce or "
		   "a name from deployment-configs",
		   yshown(v).s);
}

/* ---- the whole ---- */

static int parse_feb(struct gp *p, const struct ynode *n)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type == YNODE_SCALAR && !ynode_has_nul(n))
		for (size_t i = 1; i < ARRAY_SIZE(feb_names); i++)
			if (!strcmp(n->value, feb_names[i])) {
				p->g->feb = (enum appspec_feb)i;
				return 0;
			}
	return bad(p, n,
		   "invalid file-exists-behavior (%s): DISALLOW, OVERWRITE or "
		   "RETAIN",
		   n->type == YNODE_SCALAR ? yshown(n).s : ynode_kind(n));
}

static int parse_id(struct gp *p, const struct ynode *root)
{
	const struct ynode *v = ynode_map_get(root, "id");
	struct group *g = p->g;

	if (get_str(p, v, "id", &g->id) < 0)
		return -1;
	if (!g->id) {
		g->id = group_derive_id(g->name);
		return 0;
	}
	if (!name_ok(g->id, strlen(g->id), MAX_ID))
		return bad(p, *g->id ? v : key_of(root, "id"),
			   "invalid id '%s': 1 to %d letters, digits, '.', "
			   "'_' and '-'",
			   yshown(v).s, MAX_ID);
	return 0;
}

/* ---- load-balancer ---- */

static int lb_duration(struct gp *p, const struct ynode *m, const char *key,
		       const char *path, int64_t *ms)
{
	const struct ynode *v = ynode_map_get(m, key);

	if (ynode_is_null(v))
		return 0; /* the default stays */
	/* a balancer's times are short: "200ms" too */
	if (v->type == YNODE_SCALAR && v->len > 2 && v->len <= 9 &&
	    !strcmp(v->value + v->len - 2, "ms")) {
		int64_t n = 0;

		for (size_t i = 0; i < v->len - 2; i++) {
			if (v->value[i] < '0' || v->value[i] > '9')
				return bad(p, v,
					   "'%s' is not a duration (%s): "
					   "write 200ms, 30s, 10m or a number "
					   "of seconds",
					   path, yshown(v).s);
			n = n * 10 + (v->value[i] - '0');
		}
		*ms = n;
		return 0;
	}
	return get_duration(p, m, key, path, ms);
}

static int parse_lb_health(struct gp *p, const struct ynode *n)
{
	static const char *const known[] = { "path", "interval", "wait" };
	struct group_lb *lb = &p->g->lb;
	const struct ynode *v;

	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'load-balancer.health' must be a mapping "
			   "({path: /, interval: 2s}), not a %s",
			   ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++)
		if (!ykey_is(n->keys[i], "path") &&
		    !ykey_is(n->keys[i], "interval") &&
		    !ykey_is(n->keys[i], "wait"))
			unknown_key(p, n->keys[i], "load-balancer.health",
				    known, ARRAY_SIZE(known));
	v = ynode_map_get(n, "path");
	if (!ynode_is_null(v)) {
		char *path = NULL;

		if (get_str(p, v, "load-balancer.health.path", &path) < 0)
			return -1;
		free(lb->health_path);
		lb->health_path = path;
		if (path[0] != '/' || strlen(path) > 1024)
			return bad(p, v,
				   "'load-balancer.health.path' must be a URL "
				   "path starting with '/', not %s",
				   yshown(v).s);
		for (const char *c = path; *c; c++)
			if ((unsigned char)*c <= ' ' || *c == 0x7f ||
			    *c == '"' || *c == '\\')
				return bad(p, v,
					   "'load-balancer.health.path' must "
					   "not contain spaces, quotes or "
					   "control characters: %s",
					   yshown(v).s);
	}
	if (lb_duration(p, n, "interval", "load-balancer.health.interval",
			&lb->health_interval_ms) < 0 ||
	    lb_duration(p, n, "wait", "load-balancer.health.wait",
			&lb->health_wait_ms) < 0)
		return -1;
	if (lb->health_interval_ms < 100)
		return bad(p, ynode_map_get(n, "interval"),
			   "'load-balancer.health.interval' must be at least "
			   "100ms");
	return 0;
}

static int parse_lb(struct gp *p, const struct ynode *n)
{
	static const char *const known[] = { "kind",
					     "managed",
					     "socket",
					     "backend",
					     "port",
					     "health",
					     "deregistration-delay" };
	struct group_lb *lb = &p->g->lb;
	const struct ynode *v, *managed, *sock;
	char *kind = NULL;
	int ret = -1;

	p->g->load_balancer = true;
	lb->haproxy = true;
	lb->health_path = xstrdup("/");
	lb->health_interval_ms = 2000;
	lb->health_wait_ms = 30000;
	lb->deregistration_delay_ms = 300000;
	for (size_t i = 0; i < n->nr; i++) {
		bool found = false;

		for (size_t j = 0; j < ARRAY_SIZE(known); j++)
			found |= ykey_is(n->keys[i], known[j]);
		if (!found)
			unknown_key(p, n->keys[i], "load-balancer", known,
				    ARRAY_SIZE(known));
	}
	v = ynode_map_get(n, "kind");
	if (get_str(p, v, "load-balancer.kind", &kind) < 0)
		goto out;
	if (!kind) {
		bad(p, where(n, "kind"),
		    "'load-balancer.kind' is required: haproxy");
		goto out;
	}
	if (strcmp(kind, "haproxy")) {
		bad(p, v,
		    "unknown load balancer kind '%s' in 'load-balancer.kind': "
		    "haproxy is the only one",
		    kind);
		goto out;
	}
	managed = ynode_map_get(n, "managed");
	sock = ynode_map_get(n, "socket");
	if (!ynode_is_null(managed) && !ynode_is_null(sock)) {
		bad(p, sock,
		    "'load-balancer' has both 'managed' and 'socket': one "
		    "HAProxy, either run by slipway or an existing one");
		goto out;
	}
	if (!ynode_is_null(managed)) {
		const struct ynode *l;

		if (managed->type != YNODE_MAP) {
			bad(p, managed,
			    "'load-balancer.managed' must be a mapping "
			    "({listen: 127.0.0.1:8080}), not a %s",
			    ynode_kind(managed));
			goto out;
		}
		lb->managed = true;
		l = ynode_map_get(managed, "listen");
		if (get_str(p, l, "load-balancer.managed.listen", &lb->listen) <
		    0)
			goto out;
		if (!lb->listen) {
			bad(p, where(managed, "listen"),
			    "'load-balancer.managed.listen' is required: "
			    "address:port");
			goto out;
		}
		if (check_target(p, l, "load-balancer.managed.listen",
				 lb->listen) < 0)
			goto out;
		lb->backend = xstrdup("slipway");
	} else if (!ynode_is_null(sock)) {
		const struct ynode *b = ynode_map_get(n, "backend");
		char *joined;

		if (get_str(p, sock, "load-balancer.socket", &lb->socket) < 0)
			goto out;
		if (!*lb->socket || has_ctrl(lb->socket, strlen(lb->socket))) {
			bad(p, sock,
			    "'load-balancer.socket' must be a path to "
			    "HAProxy's admin socket");
			goto out;
		}
		joined = lb->socket[0] == '/'
				 ? xstrdup(lb->socket)
				 : xasprintf("%s/%s", p->g->dir, lb->socket);
		free(lb->socket);
		lb->socket = fs_abspath(joined);
		free(joined);
		if (get_str(p, b, "load-balancer.backend", &lb->backend) < 0)
			goto out;
		if (!lb->backend ||
		    !name_ok(lb->backend, strlen(lb->backend), 100)) {
			bad(p, where(n, "backend"),
			    "'load-balancer.backend' is required with "
			    "'socket': the name of the HAProxy backend whose "
			    "servers are the hosts");
			goto out;
		}
	} else {
		bad(p, n,
		    "'load-balancer' needs 'managed: {listen: ADDR:PORT}' "
		    "(slipway runs an HAProxy) or 'socket' and 'backend' (an "
		    "existing one)");
		goto out;
	}
	v = ynode_map_get(n, "port");
	if (!ynode_is_null(v)) {
		if (get_uint(p, n, "port", "load-balancer.port", 65535,
			     &lb->port) < 0)
			goto out;
		if (!lb->port) {
			bad(p, v, "'load-balancer.port' must be 1 to 65535");
			goto out;
		}
	}
	if (parse_lb_health(p, ynode_map_get(n, "health")) < 0 ||
	    lb_duration(p, n, "deregistration-delay",
			"load-balancer.deregistration-delay",
			&lb->deregistration_delay_ms) < 0)
		goto out;
	ret = 0;
out:
	free(kind);
	return ret;
}

/* ---- blue-green ---- */

static int bg_action(struct gp *p, const struct ynode *m, const char *path,
		     const char *const *allowed, size_t *which)
{
	const struct ynode *v = ynode_map_get(m, "action");
	char *a = NULL;

	*which = 0;
	if (ynode_is_null(v))
		return 0;
	if (get_str(p, v, path, &a) < 0)
		return -1;
	for (size_t i = 0; i < 2; i++)
		if (!strcmp(a, allowed[i])) {
			*which = i;
			free(a);
			return 0;
		}
	bad(p, v, "'%s' must be %s or %s, not '%s'", path, allowed[0],
	    allowed[1], a);
	free(a);
	return -1;
}

static int parse_blue_green(struct gp *p, const struct ynode *root)
{
	static const char *const known[] = { "replacement-hosts", "ready",
					     "original" };
	static const char *const ready_actions[] = { "CONTINUE_DEPLOYMENT",
						     "STOP_DEPLOYMENT" };
	static const char *const orig_actions[] = { "TERMINATE", "KEEP_ALIVE" };
	static const char *const act_keys[] = { "action", "wait" };
	const struct ynode *type = ynode_map_get(root, "deployment-type");
	const struct ynode *bg = ynode_map_get(root, "blue-green"), *list, *m;
	struct group *g = p->g;
	char *t = NULL;
	size_t which, first = g->nr_hosts;

	if (!ynode_is_null(type)) {
		if (get_str(p, type, "deployment-type", &t) < 0)
			return -1;
		if (strcmp(t, "IN_PLACE") && strcmp(t, "BLUE_GREEN")) {
			bad(p, type,
			    "'deployment-type' must be IN_PLACE or BLUE_GREEN, "
			    "not '%s'",
			    t);
			free(t);
			return -1;
		}
		g->blue_green = !strcmp(t, "BLUE_GREEN");
		free(t);
	}
	if (!g->blue_green) {
		if (!ynode_is_null(bg))
			warnf(p, key_of(root, "blue-green"),
			      "'blue-green' ignored: 'deployment-type' is not "
			      "BLUE_GREEN");
		return 0;
	}
	if (!g->lb.haproxy)
		return bad(p, type,
			   "a BLUE_GREEN deployment moves traffic: the group "
			   "needs a 'load-balancer' (kind: haproxy)");
	if (ynode_is_null(bg) || bg->type != YNODE_MAP)
		return bad(p, ynode_is_null(bg) ? type : bg,
			   "a BLUE_GREEN deployment needs 'blue-green' with "
			   "'replacement-hosts'");
	for (size_t i = 0; i < bg->nr; i++)
		if (!ykey_is(bg->keys[i], known[0]) &&
		    !ykey_is(bg->keys[i], known[1]) &&
		    !ykey_is(bg->keys[i], known[2]))
			unknown_key(p, bg->keys[i], "blue-green", known,
				    ARRAY_SIZE(known));
	list = ynode_map_get(bg, "replacement-hosts");
	if (ynode_is_null(list) || list->type != YNODE_SEQ || !list->nr)
		return bad(p,
			   ynode_is_null(list) ? where(bg, "replacement-hosts")
					       : list,
			   "'blue-green.replacement-hosts' must be a list of "
			   "at least one host (- name: green-1)");
	p->hosts_key = "blue-green.replacement-hosts";
	for (size_t i = 0; i < list->nr; i++)
		if (parse_host(p, list->items[i], i) < 0)
			return -1;
	p->hosts_key = NULL;
	g->nr_replacements = g->nr_hosts - first;
	for (size_t i = first; i < g->nr_hosts; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(g->hosts[i].name, g->hosts[j].name))
				return bad(
					p,
					where(list->items[i - first], "name"),
					"duplicate host name '%s' in "
					"'blue-green.replacement-hosts[%zu]'"
					": the two fleets are distinct "
					"hosts",
					g->hosts[i].name, i - first);
	m = ynode_map_get(bg, "ready");
	if (!ynode_is_null(m)) {
		if (m->type != YNODE_MAP)
			return bad(p, m,
				   "'blue-green.ready' must be a mapping "
				   "({action: CONTINUE_DEPLOYMENT})");
		for (size_t i = 0; i < m->nr; i++)
			if (!ykey_is(m->keys[i], "action") &&
			    !ykey_is(m->keys[i], "wait"))
				unknown_key(p, m->keys[i], "blue-green.ready",
					    act_keys, ARRAY_SIZE(act_keys));
		if (bg_action(p, m, "blue-green.ready.action", ready_actions,
			      &which) < 0)
			return -1;
		if (which == 0 && key_of(m, "wait"))
			warnf(p, key_of(m, "wait"),
			      "'blue-green.ready.wait' ignored: "
			      "CONTINUE_DEPLOYMENT moves the traffic at once");
		g->ready_stop = which == 1;
		if (which == 1)
			g->ready_wait_ms = 60 * 60 * 1000; /* 1h by default */
		if (which == 1 &&
		    lb_duration(p, m, "wait", "blue-green.ready.wait",
				&g->ready_wait_ms) < 0)
			return -1;
		if (which == 1 && key_of(m, "wait") && !g->ready_wait_ms)
			return bad(p, ynode_map_get(m, "wait"),
				   "'blue-green.ready.wait' must be more "
				   "than 0: how long the replacement fleet "
				   "waits for `slipway deploy continue`");
	}
	g->terminate = true;
	m = ynode_map_get(bg, "original");
	if (!ynode_is_null(m)) {
		if (m->type != YNODE_MAP)
			return bad(p, m,
				   "'blue-green.original' must be a mapping "
				   "({action: TERMINATE, wait: 5m})");
		for (size_t i = 0; i < m->nr; i++)
			if (!ykey_is(m->keys[i], "action") &&
			    !ykey_is(m->keys[i], "wait"))
				unknown_key(p, m->keys[i],
					    "blue-green.original", act_keys,
					    ARRAY_SIZE(act_keys));
		if (bg_action(p, m, "blue-green.original.action", orig_actions,
			      &which) < 0 ||
		    lb_duration(p, m, "wait", "blue-green.original.wait",
				&g->original_wait_ms) < 0)
			return -1;
		g->terminate = which == 0;
	}
	return 0;
}

/* A dotted-quad IPv4 address: what ssh and HAProxy read the same way (a
 * name may be an alias of ssh_config that HAProxy cannot resolve). */
static bool ipv4_literal(const char *s)
{
	struct in_addr a;

	return s && inet_pton(AF_INET, s, &a) == 1;
}

/* With an HAProxy: each host has a target (its own or the port's); one
 * reached over ssh has its own or, at an IPv4 address, that address and
 * the port's (and is not part of a blue/green). */
static int check_lb_hosts(struct gp *p, const struct ynode *root)
{
	const struct ynode *list = ynode_map_get(root, "hosts");
	struct group *g = p->g;

	if (!g->lb.haproxy)
		return 0;
	const struct ynode *rlist = ynode_map_get(
		ynode_map_get(root, "blue-green"), "replacement-hosts");
	size_t nr_orig = g->nr_hosts - g->nr_replacements;

	for (size_t i = 0; i < g->nr_hosts; i++) {
		struct group_host *h = &g->hosts[i];
		bool r = i >= nr_orig;
		const struct ynode *hn =
			r ? rlist->items[i - nr_orig] : list->items[i];
		const char *key = r ? "blue-green.replacement-hosts" : "hosts";
		size_t ix = r ? i - nr_orig : i;

		if (h->ssh && g->blue_green)
			return bad(p, ynode_map_get(hn, "ssh"),
				   "'%s[%zu]' is reached over ssh: the hosts "
				   "of a BLUE_GREEN deployment must be local",
				   key, ix);
		if (h->ssh && !h->target &&
		    !(g->lb.port && ipv4_literal(h->ssh_host)))
			return bad(
				p, ynode_map_get(hn, "ssh"),
				"'%s[%zu]' is reached over ssh: behind "
				"'load-balancer' it needs a 'target' "
				"(address:port), or an IPv4 address in 'ssh' "
				"and the balancer's 'port'",
				key, ix);
		if (h->ssh && !h->target) {
			h->target = xasprintf("%s:%u", h->ssh_host, g->lb.port);
			h->target_default = true;
		}
		if (!h->target && !g->lb.port)
			return bad(p, hn,
				   "'%s[%zu]' (%s) has no 'target' and "
				   "'load-balancer' no 'port': where does its "
				   "traffic go?",
				   key, ix, h->name);
		if (!h->target) {
			h->target = xasprintf("127.0.0.1:%u", g->lb.port);
			h->target_default = true;
		}
	}
	return 0;
}

static int parse_root(struct gp *p, const struct ynode *root)
{
	static const char *const known[] = {
		"application",
		"deployment-group",
		"id",
		"deployment-config",
		"file-exists-behavior",
		"ignore-application-stop-failures",
		"auto-rollback",
		"load-balancer",
		"hosts",
		"deployment-configs",
		"deployment-type",
		"blue-green",
	};
	struct group *g = p->g;

	if (!root)
		return bad(p, NULL,
			   "group file is empty: it needs application, "
			   "deployment-group and hosts");
	if (root->type != YNODE_MAP)
		return bad(p, root, "a group file must be a mapping, not a %s",
			   ynode_kind(root));
	for (size_t i = 0; i < root->nr; i++) {
		const struct ynode *k = root->keys[i], *v = root->items[i];
		int rc = 0;

		if (ykey_is(k, "file-exists-behavior"))
			rc = parse_feb(p, v);
		else if (ykey_is(k, "ignore-application-stop-failures"))
			rc = get_bool(p, v, "ignore-application-stop-failures",
				      &g->ignore_application_stop_failures);
		else if (ykey_is(k, "auto-rollback"))
			rc = get_bool(p, v, "auto-rollback", &g->auto_rollback);
		else if (ykey_is(k, "load-balancer"))
			rc = v && v->type == YNODE_MAP
				     ? parse_lb(p, v)
				     : get_bool(p, v, "load-balancer",
						&g->load_balancer);
		else if (!ykey_is(k, known[0]) && !ykey_is(k, known[1]) &&
			 !ykey_is(k, known[2]) && !ykey_is(k, known[3]) &&
			 !ykey_is(k, known[8]) && !ykey_is(k, known[9]) &&
			 !ykey_is(k, known[10]) && !ykey_is(k, known[11]))
			unknown_key(p, k, NULL, known, ARRAY_SIZE(known));
		if (rc < 0)
			return -1;
	}
	if (get_name(p, root, "application", &g->application) < 0 ||
	    get_name(p, root, "deployment-group", &g->name) < 0 ||
	    parse_id(p, root) < 0 ||
	    parse_configs(p, ynode_map_get(root, "deployment-configs")) < 0 ||
	    parse_config_name(p, root) < 0 || parse_hosts(p, root) < 0 ||
	    parse_blue_green(p, root) < 0 || check_lb_hosts(p, root) < 0)
		return -1;
	return 0;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *d, *abs;

	if (!slash)
		return fs_abspath(".");
	d = slash == path ? xstrdup("/")
			  : xstrndup(path, (size_t)(slash - path));
	abs = fs_abspath(d);
	free(d);
	return abs;
}

static int parse_doc(const char *name, const char *dir, const struct ydoc *doc,
		     struct group *g, struct sw_err *e)
{
	struct gp p = { .doc = doc, .g = g, .e = e };

	g->file = xstrdup(name);
	g->dir = dir ? fs_abspath(dir) : dir_of(name);
	strvec_init(&g->warnings);
	if (parse_root(&p, doc->root) < 0) {
		group_release(g);
		return -1;
	}
	return 0;
}

int group_parse(const char *name, const char *dir, const char *data, size_t len,
		struct group *g, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	memset(g, 0, sizeof(*g));
	if (ydoc_load(name, data, len, &doc, e) < 0)
		return -1;
	ret = parse_doc(name, dir, &doc, g, e);
	ydoc_release(&doc);
	return ret;
}

int group_load(const char *path, struct group *g, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	int ret;

	memset(g, 0, sizeof(*g));
	if (ydoc_load_file(path, &doc, e) < 0)
		return -1;
	ret = parse_doc(path, NULL, &doc, g, e);
	ydoc_release(&doc);
	return ret;
}

void group_release(struct group *g)
{
	if (!g)
		return;
	free(g->file);
	free(g->dir);
	free(g->application);
	free(g->name);
	free(g->id);
	free(g->config);
	free(g->lb.listen);
	free(g->lb.socket);
	free(g->lb.backend);
	free(g->lb.health_path);
	for (size_t i = 0; i < g->nr_hosts; i++)
		host_release(&g->hosts[i]);
	free(g->hosts);
	for (size_t i = 0; i < g->nr_configs; i++)
		dconfig_release(&g->configs[i]);
	free(g->configs);
	strvec_release(&g->warnings);
	strvec_release(&g->unknown_keys);
	memset(g, 0, sizeof(*g));
}

int group_config(const struct group *g, const char *name, struct dconfig *c,
		 struct sw_err *e)
{
	const struct dconfig *custom;

	if (!name)
		name = g->config ? g->config : builtin_names[0];
	custom = find_custom(g, name);
	if (custom) {
		dconfig_copy(c, custom);
		return 0;
	}
	if (dconfig_builtin(name, c) == 0)
		return 0;
	return err_set(e, ERR_USAGE, "unknown deployment config '%s'", name);
}

char *group_derive_id(const char *name)
{
	char hex[HASH_SHA256_HEX];
	struct sw_err e = SW_ERR_INIT;
	struct buf b = BUF_INIT;

	buf_addstr(&b, "slipway deployment group\n");
	buf_addstr(&b, name);
	if (hash_buf(HASH_SHA256, b.ptr, b.len, hex, &e) < 0)
		BUG("sha256: %s", e.msg);
	buf_release(&b);
	return xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
			 hex + 16, hex + 20);
}
