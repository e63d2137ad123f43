#include "appspec.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "fs.h"
#include "suggest.h"
#include "xalloc.h"
#include "yaml.h"
#include "banned.h"

#define MAX_CATEGORY 1023
/* Unknown event names shown in one message. */
#define MAX_LISTED 8

static const char *const event_names[APPSPEC_NEVENTS] = { "Start",
							  "BeforeBlockTraffic",
							  "BlockTraffic",
							  "AfterBlockTraffic",
							  "ApplicationStop",
							  "DownloadBundle",
							  "BeforeInstall",
							  "Install",
							  "AfterInstall",
							  "ApplicationStart",
							  "ValidateService",
							  "BeforeAllowTraffic",
							  "AllowTraffic",
							  "AfterAllowTraffic",
							  "End" };

static const char *const feb_names[] = { NULL, "DISALLOW", "OVERWRITE",
					 "RETAIN" };

const char *appspec_event_name(enum appspec_event ev)
{
	return (unsigned)ev < APPSPEC_NEVENTS ? event_names[ev] : "Unknown";
}

int appspec_event_from_name(const char *name, enum appspec_event *ev)
{
	for (int i = 0; i < APPSPEC_NEVENTS; i++)
		if (!strcmp(name, event_names[i])) {
			*ev = (enum appspec_event)i;
			return 0;
		}
	return -1;
}

bool appspec_event_scriptable(enum appspec_event ev)
{
	switch (ev) {
	case APPSPEC_BEFORE_BLOCK_TRAFFIC:
	case APPSPEC_AFTER_BLOCK_TRAFFIC:
	case APPSPEC_APPLICATION_STOP:
	case APPSPEC_BEFORE_INSTALL:
	case APPSPEC_AFTER_INSTALL:
	case APPSPEC_APPLICATION_START:
	case APPSPEC_VALIDATE_SERVICE:
	case APPSPEC_BEFORE_ALLOW_TRAFFIC:
	case APPSPEC_AFTER_ALLOW_TRAFFIC:
		return true;
	default:
		return false;
	}
}

const char *appspec_feb_name(enum appspec_feb feb)
{
	return (unsigned)feb < ARRAY_SIZE(feb_names) ? feb_names[feb] : NULL;
}

/* The parse in progress. */
struct asp {
	const struct ydoc *doc;
	struct appspec *a;
	struct sw_err *e;
};

#define bad(p, n, ...) ydoc_err((p)->doc, (n), (p)->e, __VA_ARGS__)

#define warnf(p, n, ...) ywarn((p)->doc, (n), &(p)->a->warnings, __VA_ARGS__)

/* Warn about an unknown key, with a hint when only its case is wrong or
 * it is close to a known one. */
static void unknown_key(struct asp *p, const struct ynode *k,
			const char *const *known, size_t nr_known)
{
	struct strvec *w = &p->a->warnings;
	const char *s;

	for (size_t i = 0; i < nr_known; i++)
		if (k->len == strlen(known[i]) &&
		    !strcasecmp(k->value, known[i])) {
			warnf(p, k,
			      "unknown key '%s' ignored (keys are "
			      "case-sensitive: did you mean '%s'?)",
			      yshown(k).s, known[i]);
			goto out;
		}
	s = suggest_closest(k->value, k->len, known, nr_known);
	if (s)
		warnf(p, k, "unknown key '%s' ignored (did you mean '%s'?)",
		      yshown(k).s, s);
	else
		warnf(p, k, "unknown key '%s' ignored", yshown(k).s);
out:
	strvec_push(&p->a->unknown_keys, w->v[w->nr - 1]);
}

/* A string: NULL stays unset; sequences and mappings are errors. */
static int get_str(struct asp *p, const struct ynode *n, const char *path,
		   char **out)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR)
		return bad(p, n, "'%s' must be a string, not a %s", path,
			   ynode_kind(n));
	if (ynode_has_nul(n))
		return bad(p, n, "'%s' must not contain a NUL character", path);
	free(*out);
	*out = xstrdup(n->value);
	return 0;
}

/* A string with surrounding white space removed (the agent's .strip). */
static int get_stripped(struct asp *p, const struct ynode *n, const char *path,
			char **out)
{
	char *s, *end;
	size_t skip;

	if (get_str(p, n, path, out) < 0)
		return -1;
	if (!*out)
		return 0;
	s = *out;
	skip = strspn(s, " \t\r\n\f\v");
	end = s + strlen(s);
	while (end > s + skip && strchr(" \t\r\n\f\v", end[-1]))
		end--;
	*end = '\0';
	memmove(s, s + skip, (size_t)(end - s) - skip + 1);
	return 0;
}

#define get_list(p, n, path, out)                                              \
	ynode_strlist((p)->doc, (n), (path), (out), (p)->e)

/*
 * Normalise a slash-separated path: no empty or "." components, no
 * leading or trailing slash. Returns NULL when a component is "..".
 */
static char *norm_path(const char *s)
{
	struct buf b = BUF_INIT;

	buf_addstr(&b, "");
	while (*s) {
		size_t len;

		s += strspn(s, "/");
		len = strcspn(s, "/");
		if (!len)
			break;
		if (len == 2 && !memcmp(s, "..", 2)) {
			buf_release(&b);
			return NULL;
		}
		if (!(len == 1 && *s == '.')) {
			if (b.len)
				buf_addch(&b, '/');
			buf_add(&b, s, len);
		}
		s += len;
	}
	return buf_detach(&b);
}

/*
 * A path the host must be able to name: at most PATH_MAX - 1 bytes in all
 * (full: the path as it will be used), no component over NAME_MAX. So a
 * path that validates does not fail at Install (or in a hook's exec).
 */
static int check_path_len(struct asp *p, const struct ynode *n,
			  const char *what, const char *full)
{
	const char *c = full;
	size_t len = strlen(full);

	if (len >= PATH_MAX)
		return bad(p, n,
			   "'%s' is %zu bytes long, more than %d (PATH_MAX)",
			   what, len, PATH_MAX - 1);
	while (*c) {
		size_t clen;

		c += strspn(c, "/");
		clen = strcspn(c, "/");
		if (clen > NAME_MAX)
			return bad(p, n,
				   "'%s' has a component of %zu bytes, more "
				   "than %d (NAME_MAX): %s",
				   what, clen, NAME_MAX, yshow(c, clen).s);
		c += clen;
	}
	return 0;
}

/* ---- version, os, file_exists_behavior ---- */

/* A YAML 1.1 number equal to zero: 0, 0.0, 0., .0, -0.0, 0_0.0 ... */
static bool is_zero_number(const char *s)
{
	bool digit = false, dot = false;

	if (*s == '+' || *s == '-')
		s++;
	for (; *s; s++) {
		if (*s == '0')
			digit = true;
		else if (*s == '.' && !dot)
			dot = true;
		else if (*s != '_' || !digit)
			return false;
	}
	return digit;
}

static int parse_version(struct asp *p, const struct ynode *root)
{
	const struct ynode *v = ynode_map_get(root, "version");
	bool numeric;

	if (!v || ynode_is_null(v)) {
		const struct ynode *k = root;

		for (size_t i = 0; i < root->nr; i++)
			if (ykey_is(root->keys[i], "version"))
				k = root->keys[i];
		return bad(p, k,
			   "'version' is required: the appspec must specify "
			   "0.0 as the version");
	}
	if (v->type != YNODE_SCALAR)
		return bad(p, v, "'version' must be a scalar, not a %s",
			   ynode_kind(v));
	if (v->tag)
		numeric = !strcmp(v->tag, "tag:yaml.org,2002:float") ||
			  !strcmp(v->tag, "tag:yaml.org,2002:int");
	else
		numeric = v->plain;
	if (!ynode_has_nul(v) && is_zero_number(v->value) && !numeric)
		return bad(p, v,
			   "invalid version value (%s): the agent reads a "
			   "quoted version as a string; write version: 0.0 "
			   "without quotes",
			   yshown(v).s);
	if (ynode_has_nul(v) || !numeric || !is_zero_number(v->value))
		return bad(p, v,
			   "invalid version value (%s): the appspec must "
			   "specify 0.0 as the version",
			   yshown(v).s);
	p->a->version = xstrdup("0.0");
	return 0;
}

static int parse_os(struct asp *p, const struct ynode *root)
{
	const struct ynode *v = ynode_map_get(root, "os");

	if (!v || ynode_is_null(v)) {
		const struct ynode *k = root;

		for (size_t i = 0; i < root->nr; i++)
			if (ykey_is(root->keys[i], "os"))
				k = root->keys[i];
		return bad(p, k,
			   "'os' is required: unsupported operating system "
			   "(), only os: linux is supported");
	}
	if (v->type != YNODE_SCALAR)
		return bad(p, v, "'os' must be a string, not a %s",
			   ynode_kind(v));
	if (!ykey_is(v, "linux"))
		return bad(p, v,
			   "unsupported operating system (%s): only os: linux "
			   "is supported",
			   yshown(v).s);
	p->a->os = xstrdup("linux");
	return 0;
}

static int parse_feb(struct asp *p, const struct ynode *n)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type == YNODE_SCALAR && !ynode_has_nul(n))
		for (size_t i = 1; i < ARRAY_SIZE(feb_names); i++)
			if (!strcmp(n->value, feb_names[i])) {
				p->a->file_exists_behavior =
					(enum appspec_feb)i;
				return 0;
			}
	return bad(p, n,
		   "an invalid option was specified for file_exists_behavior: "
		   "%s (valid options are DISALLOW, OVERWRITE and RETAIN)",
		   n->type == YNODE_SCALAR ? yshown(n).s : ynode_kind(n));
}

/* ---- files ---- */

static int parse_file(struct asp *p, const struct ynode *n, size_t idx)
{
	static const char *const known[] = { "source", "destination" };
	char path[64], sub[160];
	char *src = NULL, *dst = NULL, *norm = NULL;
	const struct ynode *sk = NULL, *dk = NULL;
	struct appspec_file *f;
	int ret = -1;

	snprintf(path, sizeof(path), "files[%zu]", idx);
	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'%s' must be a mapping with 'source' and "
			   "'destination', not a %s",
			   path, ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];

		snprintf(sub, sizeof(sub), "%s.%s", path, yshown(k).s);
		if (ykey_is(k, "source")) {
			sk = k;
			if (get_str(p, v, sub, &src) < 0)
				goto out;
		} else if (ykey_is(k, "destination")) {
			dk = k;
			if (get_str(p, v, sub, &dst) < 0)
				goto out;
		} else if (ykey_is(k, "file_exists_behavior")) {
			warnf(p, k,
			      "'file_exists_behavior' in '%s' ignored: it is a "
			      "top-level key that applies to all files",
			      path);
		} else {
			unknown_key(p, k, known, ARRAY_SIZE(known));
		}
	}
	if (!src || !*src) {
		bad(p, sk ? ynode_at(ynode_map_get(n, "source"), sk) : n,
		    "'%s' specifies a destination file, but no source file",
		    path);
		goto out;
	}
	if (!dst || !*dst) {
		bad(p, dk ? ynode_at(ynode_map_get(n, "destination"), dk) : n,
		    "'%s' specifies only a source file (%s): add the "
		    "destination",
		    path, yshow(src, strlen(src)).s);
		goto out;
	}
	norm = norm_path(src);
	if (!norm) {
		bad(p, ynode_map_get(n, "source"),
		    "'%s.source' must stay inside the bundle (%s)", path,
		    yshow(src, strlen(src)).s);
		goto out;
	}
	snprintf(sub, sizeof(sub), "%s.source", path);
	if (check_path_len(p, ynode_map_get(n, "source"), sub, norm) < 0)
		goto out;
	free(src);
	if (*norm) {
		src = norm;
	} else {
		free(norm);
		src = xstrdup(".");
	}
	norm = NULL;
	if (dst[0] != '/') {
		/* The agent takes it, relative to its own working directory
		 * (/opt/codedeploy-agent, or / under systemd): never what
		 * was meant, and a different place on every host. */
		bad(p, ynode_map_get(n, "destination"),
		    "'%s.destination' must be an absolute path (%s): the agent "
		    "would install it relative to its own working directory "
		    "(/opt/codedeploy-agent, or / under systemd), not to the "
		    "bundle or the application",
		    path, yshow(dst, strlen(dst)).s);
		goto out;
	}
	norm = norm_path(dst);
	if (!norm) {
		bad(p, ynode_map_get(n, "destination"),
		    "'%s.destination' must not contain '..' (%s)", path,
		    yshow(dst, strlen(dst)).s);
		goto out;
	}
	free(dst);
	dst = xasprintf("/%s", norm);
	snprintf(sub, sizeof(sub), "%s.destination", path);
	if (check_path_len(p, ynode_map_get(n, "destination"), sub, dst) < 0)
		goto out;
	ALLOC_GROW(p->a->files, p->a->nr_files + 1, p->a->alloc_files);
	f = &p->a->files[p->a->nr_files++];
	*f = (struct appspec_file){ .source = src,
				    .destination = dst,
				    .line = n->line,
				    .col = n->col };
	src = dst = NULL;
	ret = 0;
out:
	free(norm);
	free(src);
	free(dst);
	return ret;
}

static int parse_files(struct asp *p, const struct ynode *n)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SEQ)
		return bad(p, n, "'files' must be a sequence, not a %s",
			   ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++)
		if (parse_file(p, n->items[i], i) < 0)
			return -1;
	return 0;
}

/* ---- permissions ---- */

/* The agent's mode: octal digits, 1 to 4 of them, padded to 3. */
static int parse_mode(struct asp *p, const struct ynode *n, const char *path,
		      struct appspec_permission *perm)
{
	const char *s;
	size_t len;
	int mode = 0;

	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR || ynode_has_nul(n))
		return bad(p, n, "'%s' must be octal digits, not a %s", path,
			   ynode_kind(n));
	s = n->value;
	len = n->len;
	if (len > 4)
		return bad(p, n,
			   "the length of a permissions mode (%s) is invalid: "
			   "permissions modes must be between one and four "
			   "characters long",
			   yshown(n).s);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '7')
			return bad(p, n,
				   "the permissions mode (%s) contains an "
				   "invalid character (%c)",
				   yshown(n).s,
				   (s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i]);
		mode = mode * 8 + (s[i] - '0');
	}
	if (len < 3)
		warnf(p, n, "'%s' %s is taken as %04o (padded with zeros)",
		      path, yshown(n).s, (unsigned)mode);
	perm->mode = mode;
	return 0;
}

/* One setfacl entry: [d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]]:name:perms */
static int check_ace(struct asp *p, const struct ynode *n, const char *ace)
{
	const char *parts[4];
	size_t lens[4], nr = 0;
	const char *s = ace;
	bool dflt = false;
	const char *type = NULL;
	size_t name_len = 0;

	/* split on ':' keeping empty parts, last part first (as the agent) */
	for (;;) {
		const char *c = strchr(s, ':');

		if (nr == 4)
			goto invalid;
		if (!c) {
			parts[nr] = s;
			lens[nr++] = strlen(s);
			break;
		}
		parts[nr] = s;
		lens[nr++] = (size_t)(c - s);
		s = c + 1;
	}
	if (nr < 2)
		goto invalid;
#define PART(i) (parts[nr - 1 - (i)])
#define PLEN(i) (lens[nr - 1 - (i)])
#define PIS(i, w) (PLEN(i) == strlen(w) && !memcmp(PART(i), (w), PLEN(i)))
	if (nr == 4) {
		if (!PIS(3, "d") && !PIS(3, "default"))
			goto invalid;
		dflt = true;
	}
	if (nr >= 3) {
		if (PIS(2, "d") || PIS(2, "default")) {
			if (dflt)
				goto invalid;
			dflt = true;
		} else if (PIS(2, "m") || PIS(2, "mask")) {
			type = "mask";
		} else if (PIS(2, "o") || PIS(2, "other")) {
			type = "other";
		} else if (PIS(2, "g") || PIS(2, "group")) {
			type = "group";
		} else if (PIS(2, "u") || PIS(2, "user")) {
			type = "user";
		} else {
			goto invalid;
		}
	}
	if (PIS(1, "m") || PIS(1, "mask")) {
		if (type)
			name_len = PLEN(1);
		else
			type = "mask";
	} else if (PIS(1, "o") || PIS(1, "other")) {
		if (type)
			name_len = PLEN(1);
		else
			type = "other";
	} else {
		if (!type)
			type = "user";
		name_len = PLEN(1);
	}
	if ((!strcmp(type, "mask") || !strcmp(type, "other")) && name_len)
		goto invalid;
	if (!dflt && strcmp(type, "mask") && !name_len)
		return bad(p, n,
			   "use mode to set the base acl entry (%s) in the "
			   "acls of a permission",
			   yshow(ace, strlen(ace)).s);
	if (PLEN(0) == 1 && PART(0)[0] >= '0' && PART(0)[0] <= '7')
		return 0;
	for (size_t i = 0; i < PLEN(0); i++) {
		char c = PART(0)[i];

		if (c != 'r' && c != 'w' && c != 'x' && c != '-')
			return bad(p, n,
				   "the access control list (ACL) entry %s "
				   "contains an invalid character (%c)",
				   yshow(ace, strlen(ace)).s,
				   (c < 0x20 || c == 0x7f) ? '?' : c);
	}
	return 0;
#undef PART
#undef PLEN
#undef PIS
invalid:
	return bad(p, n,
		   "a problem with the acls permission settings: invalid acl "
		   "entry (%s)",
		   yshow(ace, strlen(ace)).s);
}

static int parse_acls(struct asp *p, const struct ynode *n, const char *path,
		      struct appspec_permission *perm)
{
	size_t j = 0;

	if (get_list(p, n, path, &perm->acls) < 0)
		return -1;
	for (size_t i = 0; i < perm->acls.nr; i++) {
		const struct ynode *at_n = n;

		if (n->type == YNODE_SEQ) {
			/* the i-th non-null item: one walk over the list */
			while (j < n->nr && ynode_is_null(n->items[j]))
				j++;
			if (j < n->nr)
				at_n = n->items[j++];
		}
		if (check_ace(p, at_n, perm->acls.v[i]) < 0)
			return -1;
	}
	return 0;
}

/* s<digits>; *out gets the level (capped, only compared). */
static bool sensitivity(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;

	if (len < 2 || s[0] != 's')
		return false;
	for (size_t i = 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v < 100000000UL)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* c<digits> with a value of at most 1023. */
static bool category(const char *s, size_t len, unsigned *out)
{
	unsigned v = 0;

	if (len < 2 || s[0] != 'c')
		return false;
	for (size_t i = 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > MAX_CATEGORY)
			return false;
	}
	*out = v;
	return true;
}

/* An SELinux range as the agent reads it: s#[-s#][:c#[.c#](,c#[.c#])*]. */
static int check_range(struct asp *p, const struct ynode *n, const char *r)
{
	const char *colon = strchr(r, ':'), *dash, *s;
	size_t slen = colon ? (size_t)(colon - r) : strlen(r);
	unsigned long lo, hi;
	unsigned char seen[MAX_CATEGORY + 1] = { 0 };

	dash = memchr(r, '-', slen);
	if (!slen || (colon && !colon[1]) ||
	    !sensitivity(r, dash ? (size_t)(dash - r) : slen, &lo))
		goto bad_range;
	if (dash) {
		if (!sensitivity(dash + 1, slen - (size_t)(dash + 1 - r), &hi))
			goto bad_range;
		if (hi < lo)
			goto bad_range;
	}
	if (!colon)
		return 0;
	for (s = colon + 1;;) {
		size_t len = strcspn(s, ",");
		const char *dot = memchr(s, '.', len);
		unsigned a, b;

		if (dot) {
			if (!category(s, (size_t)(dot - s), &a) ||
			    !category(dot + 1, len - (size_t)(dot + 1 - s),
				      &b) ||
			    b < a)
				goto bad_range;
		} else if (!category(s, len, &a)) {
			goto bad_range;
		} else {
			b = a;
		}
		for (unsigned c = a; c <= b; c++) {
			if (seen[c])
				return bad(
					p, n,
					"duplicate categories in the SELinux "
					"range (%s) of a permission's context",
					yshow(r, strlen(r)).s);
			seen[c] = 1;
		}
		if (!s[len])
			break;
		s += len + 1;
	}
	return 0;
bad_range:
	return bad(p, n,
		   "a problem with the SELinux range specified (%s) for the "
		   "context parameter of a permission (expected "
		   "s#[-s#][:c#[.c#],...], categories up to c1023)",
		   yshow(r, strlen(r)).s);
}

static int parse_context(struct asp *p, const struct ynode *k,
			 const struct ynode *n, const char *path,
			 struct appspec_permission *perm)
{
	static const char *const known[] = { "name", "user", "type", "range" };
	const struct ynode *user_k = NULL;
	char sub[256];

	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping, not a %s", path,
			   ynode_kind(n));
	perm->has_context = true;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *ck = n->keys[i], *v = n->items[i];

		snprintf(sub, sizeof(sub), "%s.%s", path, yshown(ck).s);
		if (ykey_is(ck, "name") || ykey_is(ck, "user")) {
			if (user_k)
				return bad(p, ck,
					   "'%s' has both 'name' and 'user' "
					   "(the SELinux user; give one)",
					   path);
			user_k = ck;
			if (get_str(p, v, sub, &perm->context_user) < 0)
				return -1;
		} else if (ykey_is(ck, "type")) {
			if (get_str(p, v, sub, &perm->context_type) < 0)
				return -1;
		} else if (ykey_is(ck, "range")) {
			if (get_str(p, v, sub, &perm->context_range) < 0)
				return -1;
			if (perm->context_range &&
			    check_range(p, v, perm->context_range) < 0)
				return -1;
		} else {
			unknown_key(p, ck, known, ARRAY_SIZE(known));
		}
	}
	if (!perm->context_type || !*perm->context_type)
		return bad(p, ynode_at(ynode_map_get(n, "type"), k),
			   "'%s' specifies an invalid context type: 'type' is "
			   "required",
			   path);
	return 0;
}

static int parse_types(struct asp *p, const struct ynode *n, const char *path,
		       struct appspec_permission *perm)
{
	struct strvec v = STRVEC_INIT;
	int ret = -1;

	if (ynode_is_null(n))
		return 0;
	if (get_list(p, n, path, &v) < 0)
		goto out;
	perm->types = 0;
	for (size_t i = 0; i < v.nr; i++) {
		if (!strcmp(v.v[i], "file")) {
			perm->types |= APPSPEC_TYPE_FILE;
		} else if (!strcmp(v.v[i], "directory")) {
			perm->types |= APPSPEC_TYPE_DIRECTORY;
		} else {
			bad(p, n,
			    "a permission for an object type not supported for "
			    "permissions (%s): '%s' takes file and directory",
			    yshow(v.v[i], strlen(v.v[i])).s, path);
			goto out;
		}
	}
	if (!perm->types) {
		bad(p, n, "'%s' must name file, directory or both", path);
		goto out;
	}
	ret = 0;
out:
	strvec_release(&v);
	return ret;
}

static void permission_release(struct appspec_permission *perm)
{
	free(perm->object);
	free(perm->pattern);
	strvec_release(&perm->except);
	free(perm->owner);
	free(perm->group);
	strvec_release(&perm->acls);
	free(perm->context_user);
	free(perm->context_type);
	free(perm->context_range);
}

static int parse_permission(struct asp *p, const struct ynode *n, size_t idx)
{
	static const char *const known[] = { "object", "pattern", "except",
					     "owner",  "group",	  "mode",
					     "acls",   "context", "type" };
	struct appspec_permission perm = { .mode = -1,
					   .types = APPSPEC_TYPE_FILE |
						    APPSPEC_TYPE_DIRECTORY,
					   .line = n->line,
					   .col = n->col };
	char path[64], sub[160];
	char *norm;

	strvec_init(&perm.except);
	strvec_init(&perm.acls);
	snprintf(path, sizeof(path), "permissions[%zu]", idx);
	if (n->type != YNODE_MAP)
		return bad(p, n, "'%s' must be a mapping, not a %s", path,
			   ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		snprintf(sub, sizeof(sub), "%s.%s", path, yshown(k).s);
		if (ykey_is(k, "object"))
			rc = get_stripped(p, v, sub, &perm.object);
		else if (ykey_is(k, "pattern"))
			rc = get_str(p, v, sub, &perm.pattern);
		else if (ykey_is(k, "except"))
			rc = get_list(p, v, sub, &perm.except);
		else if (ykey_is(k, "owner"))
			rc = get_str(p, v, sub, &perm.owner);
		else if (ykey_is(k, "group"))
			rc = get_str(p, v, sub, &perm.group);
		else if (ykey_is(k, "mode"))
			rc = parse_mode(p, v, sub, &perm);
		else if (ykey_is(k, "acls"))
			rc = parse_acls(p, v, sub, &perm);
		else if (ykey_is(k, "context"))
			rc = parse_context(p, k, v, sub, &perm);
		else if (ykey_is(k, "type"))
			rc = parse_types(p, v, sub, &perm);
		else
			unknown_key(p, k, known, ARRAY_SIZE(known));
		if (rc < 0)
			goto fail;
	}
	if (!perm.object || !*perm.object) {
		const struct ynode *ok = NULL;

		for (size_t i = 0; i < n->nr; i++)
			if (ykey_is(n->keys[i], "object"))
				ok = n->keys[i];
		bad(p, ok ? ok : n,
		    "'%s' has no object value: a permission needs the path "
		    "it applies to",
		    path);
		goto fail;
	}
	if (perm.object[0] != '/') {
		bad(p, ynode_map_get(n, "object"),
		    "'%s.object' must be an absolute path (%s)", path,
		    yshow(perm.object, strlen(perm.object)).s);
		goto fail;
	}
	norm = norm_path(perm.object);
	if (!norm) {
		bad(p, ynode_map_get(n, "object"),
		    "'%s.object' must not contain '..' (%s)", path,
		    yshow(perm.object, strlen(perm.object)).s);
		goto fail;
	}
	free(perm.object);
	perm.object = xasprintf("/%s", norm);
	free(norm);
	snprintf(sub, sizeof(sub), "%s.object", path);
	if (check_path_len(p, ynode_map_get(n, "object"), sub, perm.object) < 0)
		goto fail;
	if (!perm.pattern || !*perm.pattern) {
		free(perm.pattern);
		perm.pattern = xstrdup("**");
	}
	if ((perm.owner && !*perm.owner) || (perm.group && !*perm.group)) {
		bad(p, n, "'%s' has an empty owner or group", path);
		goto fail;
	}
	ALLOC_GROW(p->a->permissions, p->a->nr_permissions + 1,
		   p->a->alloc_permissions);
	p->a->permissions[p->a->nr_permissions++] = perm;
	return 0;
fail:
	permission_release(&perm);
	return -1;
}

static int parse_permissions(struct asp *p, const struct ynode *n)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SEQ)
		return bad(p, n, "'permissions' must be a sequence, not a %s",
			   ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++)
		if (parse_permission(p, n->items[i], i) < 0)
			return -1;
	return 0;
}

/* ---- hooks ---- */

/* Seconds past this are refused: no hook runs for 30 years. */
#define MAX_TIMEOUT 1000000000LL

static long long sat_digit(long long v, int base, int d)
{
	return v > MAX_TIMEOUT ? v : v * base + d;
}

/* Digits of base with single '_' between them (Ruby's String#to_i and
 * YAML 1.1 alike); *end past the last one read. */
static long long digits(const char *s, const char *lim, int base,
			const char **end)
{
	long long v = 0;
	const char *p = s;

	while (p < lim) {
		int d = *p >= '0' && *p <= '9'	 ? *p - '0'
			: *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
			: *p >= 'A' && *p <= 'F' ? *p - 'A' + 10
						 : 99;

		if (d < base) {
			v = sat_digit(v, base, d);
			p++;
		} else if (*p == '_' && p > s && p + 1 < lim && p[1] != '_') {
			p++;
		} else {
			break;
		}
	}
	*end = p;
	return v;
}

/*
 * A plain scalar that YAML 1.1 (Psych) reads as a number: *v, truncated
 * toward zero for a float (Ruby's Float#to_i). False for anything else,
 * and for .inf/.nan (whose to_i the agent cannot do either).
 */
static bool yaml11_number(const char *s, size_t len, long long *v)
{
	const char *lim = s + len, *p = s, *end;
	bool neg = false;
	long long x;

	if (p < lim && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p == lim)
		return false;
	if (lim - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
		x = digits(p + 2, lim, p[1] == 'x' ? 16 : 2, &end);
		if (end != lim || end == p + 2)
			return false;
	} else if (*p == '.' || (*p >= '0' && *p <= '9')) {
		const char *q = p;

		x = digits(p, lim, 10, &end);
		if (end == lim && (*p != '0' || end == p + 1)) {
			/* decimal */
		} else if (end == lim && *p == '0') {
			x = digits(p, lim, 8, &end);
			if (end != lim)
				return false;
		} else if (*end == ':') {
			/* base 60: 1:30 is 90 */
			while (end < lim && *end == ':') {
				long long part;

				q = end + 1;
				part = digits(q, lim, 10, &end);
				if (end == q || end - q > 2 || part > 59)
					return false;
				x = x > MAX_TIMEOUT ? x : x * 60 + part;
			}
			if (end != lim)
				return false;
		} else if (*end == '.') {
			/* [0-9][0-9_]*?\.[0-9]*([eE][-+][0-9]+)? */
			char buf[64];
			size_t n = 0;
			double f;

			for (q = p; q < lim && n < sizeof(buf) - 1; q++) {
				if (*q == '_' && q < end)
					continue;
				buf[n++] = *q;
			}
			if (q != lim)
				return false;
			buf[n] = '\0';
			q = end + 1;
			while (q < lim && *q >= '0' && *q <= '9')
				q++;
			if (q < lim) {
				if ((*q != 'e' && *q != 'E') || q + 2 >= lim ||
				    (q[1] != '+' && q[1] != '-'))
					return false;
				for (q += 2; q < lim; q++)
					if (*q < '0' || *q > '9')
						return false;
			}
			if (end == p && end + 1 == lim)
				return false; /* "." alone is a string */
			f = strtod(buf, NULL);
			x = f >= (double)MAX_TIMEOUT ? MAX_TIMEOUT + 1
						     : (long long)f;
		} else {
			return false;
		}
	} else {
		return false;
	}
	*v = neg ? -x : x;
	return true;
}

/* Ruby's String#to_i: blanks, a sign, the digits up to anything else. */
static long long ruby_to_i(const char *s, size_t len, const char **rest)
{
	const char *lim = s + len, *p = s, *end;
	bool neg = false;
	long long x;

	while (p < lim && strchr(" \t\n\v\f\r", *p))
		p++;
	if (p < lim && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	x = digits(p, lim, 10, &end);
	*rest = end;
	return neg ? -x : x;
}

/* "5m" meant minutes, the agent takes seconds: the unit it dropped. */
static const char *dropped_unit(const char *rest, long long *per)
{
	rest += strspn(rest, " \t");
	switch (*rest) {
	case 'm':
	case 'M':
		*per = 60;
		return "minutes";
	case 'h':
	case 'H':
		*per = 3600;
		return "hours";
	case 'd':
	case 'D':
		*per = 86400;
		return "days";
	default:
		return NULL;
	}
}

/*
 * The agent's `(timeout || 3600).to_i` on the YAML value: a YAML 1.1
 * number as Psych reads it (2.5 is 2, 0x10 is 16, 1:30 is 90), any other
 * text as Ruby's String#to_i reads it ("30s" is 30, "abc" is 0). Less
 * than 1 is refused, as the agent refuses it; a value read differently
 * from how it is written gets a warning. A boolean, a list or a mapping
 * (the agent crashes on them) is refused.
 */
static int parse_timeout(struct asp *p, const struct ynode *n, const char *path,
			 unsigned *out)
{
	bool number, str_tag, b;
	long long v, per = 1;
	char canon[32];
	const char *rest = "", *unit;

	*out = APPSPEC_DEFAULT_TIMEOUT;
	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_SCALAR)
		return bad(p, n,
			   "an invalid timeout value was provided for a script "
			   "in '%s': a number of seconds, not a %s",
			   path, ynode_kind(n));
	if (ynode_has_nul(n))
		goto invalid;
	str_tag = n->tag && !strcmp(n->tag, "tag:yaml.org,2002:str");
	if (n->plain && !n->tag && !ynode_bool(n, &b))
		return bad(p, n,
			   "an invalid timeout value (%s) was provided for a "
			   "script in '%s': a number of seconds, not a boolean",
			   yshown(n).s, path);
	number = (n->plain || (n->tag && !str_tag)) && !str_tag &&
		 yaml11_number(n->value, n->len, &v);
	if (!number)
		v = ruby_to_i(n->value, n->len, &rest);
	if (v < 1 || v > MAX_TIMEOUT)
		goto invalid;
	*out = (unsigned)v;
	snprintf(canon, sizeof(canon), "%lld", v);
	unit = dropped_unit(rest, &per);
	if (unit)
		warnf(p, n,
		      "timeout %s%s%s in '%s' is read as %lld second%s, as the "
		      "agent reads it (Ruby's to_i), not %lld %s: write %lld "
		      "for that",
		      n->plain ? "" : "\"", yshown(n).s, n->plain ? "" : "\"",
		      path, v, v == 1 ? "" : "s", v, unit,
		      v > MAX_TIMEOUT / per ? MAX_TIMEOUT : v * per);
	else if (strcmp(n->value, canon) &&
		 !(n->value[0] == '+' && !strcmp(n->value + 1, canon)))
		warnf(p, n,
		      "timeout %s%s%s in '%s' is read as %lld second%s, as the "
		      "agent reads it (Ruby's to_i)",
		      n->plain ? "" : "\"", yshown(n).s, n->plain ? "" : "\"",
		      path, v, v == 1 ? "" : "s");
	return 0;
invalid:
	return bad(p, n,
		   "an invalid timeout value (%s) was provided for a script "
		   "in '%s': whole seconds from 1 to %lld (the agent reads "
		   "the value with Ruby's to_i)",
		   yshown(n).s, path, MAX_TIMEOUT);
}

static int parse_script(struct asp *p, const struct ynode *n, const char *event,
			size_t idx, struct appspec_hook *h)
{
	static const char *const known[] = { "location", "timeout", "runas",
					     "sudo" };
	struct appspec_script sc = { .timeout = APPSPEC_DEFAULT_TIMEOUT,
				     .line = n->line,
				     .col = n->col };
	const struct ynode *loc;
	char path[64], sub[160];
	char *norm;

	snprintf(path, sizeof(path), "hooks.%s[%zu]", event, idx);
	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "a script in 'hooks.%s' must be a mapping with "
			   "'location', not a %s",
			   event, ynode_kind(n));
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		int rc = 0;

		snprintf(sub, sizeof(sub), "%s.%s", path, yshown(k).s);
		if (ykey_is(k, "location")) {
			rc = get_stripped(p, v, sub, &sc.location);
		} else if (ykey_is(k, "timeout")) {
			rc = parse_timeout(p, v, path, &sc.timeout);
		} else if (ykey_is(k, "runas")) {
			rc = get_stripped(p, v, sub, &sc.runas);
			if (!rc && sc.runas && !*sc.runas) {
				free(sc.runas);
				sc.runas = NULL;
			}
		} else if (ykey_is(k, "sudo")) {
			if (!ynode_is_null(v) && ynode_bool(v, &sc.sudo) < 0)
				rc = bad(p, v,
					 "'%s' must be a boolean (true or "
					 "false)",
					 sub);
		} else {
			unknown_key(p, k, known, ARRAY_SIZE(known));
		}
		if (rc < 0)
			goto fail;
	}
	loc = ynode_map_get(n, "location");
	if (!sc.location || !*sc.location) {
		bad(p, loc ? ynode_at(loc, n) : n,
		    "'%s' specifies a script with no location value", path);
		goto fail;
	}
	if (sc.location[0] == '/')
		warnf(p, loc,
		      "'%s.location' is taken relative to the bundle root, as "
		      "the agent does (%s)",
		      path, yshow(sc.location, strlen(sc.location)).s);
	norm = norm_path(sc.location);
	if (!norm || !*norm) {
		free(norm);
		bad(p, loc,
		    norm ? "'%s.location' must name a script in the bundle "
			   "(%s)"
			 : "'%s.location' must stay inside the bundle (%s)",
		    path, yshow(sc.location, strlen(sc.location)).s);
		goto fail;
	}
	/* Checked normalised, kept as written: the agent names a script
	 * by its location as written, in scripts.log and in errors. */
	snprintf(sub, sizeof(sub), "%s.location", path);
	if (check_path_len(p, loc, sub, norm) < 0) {
		free(norm);
		goto fail;
	}
	free(norm);
	if (sc.timeout > APPSPEC_DEFAULT_TIMEOUT)
		warnf(p, ynode_map_get(n, "timeout"),
		      "'%s' timeout %u is more than %d seconds: the service "
		      "fails an event that runs longer",
		      path, sc.timeout, APPSPEC_DEFAULT_TIMEOUT);
	ALLOC_GROW(h->scripts, h->nr + 1, h->alloc);
	h->scripts[h->nr++] = sc;
	return 0;
fail:
	free(sc.location);
	free(sc.runas);
	return -1;
}

/* The names of the unknown event keys (the first few), for the agent's
 * message. */
static void list_unknown(const struct ynode *n, struct buf *b)
{
	size_t listed = 0;

	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];
		enum appspec_event ev;

		if (!ynode_has_nul(k) &&
		    !appspec_event_from_name(k->value, &ev))
			continue;
		if (listed++ == MAX_LISTED) {
			buf_addstr(b, ", ...");
			break;
		}
		if (b->len)
			buf_addstr(b, ", ");
		buf_addstr(b, yshown(k).s);
	}
}

static int parse_hooks(struct asp *p, const struct ynode *n)
{
	const char *base;

	if (ynode_is_null(n))
		return 0;
	if (n->type != YNODE_MAP)
		return bad(p, n,
			   "'hooks' must be a mapping of lifecycle events to "
			   "scripts, not a %s",
			   ynode_kind(n));
	base = strrchr(p->doc->file, '/');
	base = base ? base + 1 : p->doc->file;
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i], *v = n->items[i];
		enum appspec_event ev;
		struct appspec_hook *h;
		unsigned long total = 0;

		if (ynode_has_nul(k) ||
		    appspec_event_from_name(k->value, &ev) < 0) {
			struct buf b = BUF_INIT;

			list_unknown(n, &b);
			bad(p, k,
			    "%s file contains unknown lifecycle events: [%s] "
			    "(scriptable: ApplicationStop, BeforeInstall, "
			    "AfterInstall, ApplicationStart, ValidateService, "
			    "BeforeBlockTraffic, AfterBlockTraffic, "
			    "BeforeAllowTraffic, AfterAllowTraffic)",
			    base, buf_cstr(&b));
			buf_release(&b);
			return -1;
		}
		if (!appspec_event_scriptable(ev))
			return bad(p, k,
				   "lifecycle event '%s' is reserved for "
				   "CodeDeploy and cannot run scripts",
				   event_names[ev]);
		h = &p->a->hooks[ev];
		h->present = true;
		h->line = k->line;
		h->col = k->col;
		if (ynode_is_null(v))
			continue;
		if (v->type != YNODE_SEQ)
			return bad(p, v,
				   "'hooks.%s' must be a sequence of scripts "
				   "(- location: ...), not a %s",
				   event_names[ev], ynode_kind(v));
		for (size_t j = 0; j < v->nr; j++) {
			const struct ynode *t;

			if (parse_script(p, v->items[j], event_names[ev], j,
					 h) < 0)
				return -1;
			/* only timeouts written down: the default is a cap */
			t = ynode_map_get(v->items[j], "timeout");
			if (!ynode_is_null(t))
				total += h->scripts[h->nr - 1].timeout;
		}
		if (h->nr > 1 && total > APPSPEC_DEFAULT_TIMEOUT)
			warnf(p, k,
			      "the timeouts of 'hooks.%s' add up to %lu "
			      "seconds: the service fails an event that runs "
			      "longer than %d",
			      event_names[ev], total, APPSPEC_DEFAULT_TIMEOUT);
	}
	return 0;
}

/* ---- the whole ---- */

static int parse_root(struct asp *p, const struct ynode *root)
{
	static const char *const known[] = {
		"version",     "os",   "files", "file_exists_behavior",
		"permissions", "hooks"
	};

	if (!root)
		return bad(p, NULL,
			   "appspec is empty: the application specification "
			   "file was empty");
	if (root->type != YNODE_MAP)
		return bad(p, root, "appspec must be a mapping, not a %s",
			   ynode_kind(root));
	for (size_t i = 0; i < root->nr; i++)
		if (ykey_is(root->keys[i], "Resources"))
			return bad(p, root->keys[i],
				   "'Resources' belongs to an ECS or Lambda "
				   "appspec: only EC2/on-premises appspecs "
				   "(os: linux) are supported");
	if (parse_version(p, root) < 0 || parse_os(p, root) < 0)
		return -1;
	for (size_t i = 0; i < root->nr; i++) {
		const struct ynode *k = root->keys[i], *v = root->items[i];
		int rc = 0;

		if (ykey_is(k, "version") || ykey_is(k, "os"))
			continue;
		if (ykey_is(k, "files"))
			rc = parse_files(p, v);
		else if (ykey_is(k, "file_exists_behavior"))
			rc = parse_feb(p, v);
		else if (ykey_is(k, "permissions"))
			rc = parse_permissions(p, v);
		else if (ykey_is(k, "hooks"))
			rc = parse_hooks(p, v);
		else
			unknown_key(p, k, known, ARRAY_SIZE(known));
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* dups: the loader's warnings (duplicate keys), moved to the front */
static int parse_doc(const char *name, const struct ydoc *doc,
		     struct strvec *dups, struct appspec *a, struct sw_err *e)
{
	struct asp p = { .doc = doc, .a = a, .e = e };

	a->file = xstrdup(name);
	strvec_init(&a->warnings);
	for (size_t i = 0; i < dups->nr; i++)
		strvec_push(&a->warnings, dups->v[i]);
	if (parse_root(&p, doc->root) < 0) {
		appspec_release(a);
		return -1;
	}
	return 0;
}

/* Psych keeps the last value of a key written twice: so does the agent */
#define APPSPEC_YDOC_OPTS(w)                                                   \
	{                                                                      \
		.dup_keys_last = true, .warnings = (w)                         \
	}

int appspec_parse(const char *name, const char *data, size_t len,
		  struct appspec *a, struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	struct strvec dups = STRVEC_INIT;
	struct ydoc_opts yo = APPSPEC_YDOC_OPTS(&dups);
	int ret = -1;

	memset(a, 0, sizeof(*a));
	if (ydoc_load_opts(name, data, len, &yo, &doc, e) < 0)
		goto out;
	ret = parse_doc(name, &doc, &dups, a, e);
	ydoc_release(&doc);
out:
	strvec_release(&dups);
	return ret;
}

int appspec_load(const char *path, struct appspec *a, struct sw_err *e)
{
	return appspec_load_as(path, path, a, e);
}

int appspec_load_as(const char *path, const char *name, struct appspec *a,
		    struct sw_err *e)
{
	struct ydoc doc = YDOC_INIT;
	struct strvec dups = STRVEC_INIT;
	struct ydoc_opts yo = APPSPEC_YDOC_OPTS(&dups);
	int ret = -1;

	memset(a, 0, sizeof(*a));
	if (ydoc_load_file_opts(path, name, &yo, &doc, e) < 0)
		goto out;
	ret = parse_doc(name, &doc, &dups, a, e);
	ydoc_release(&doc);
out:
	strvec_release(&dups);
	return ret;
}

void appspec_release(struct appspec *a)
{
	if (!a)
		return;
	free(a->file);
	free(a->version);
	free(a->os);
	for (size_t i = 0; i < a->nr_files; i++) {
		free(a->files[i].source);
		free(a->files[i].destination);
	}
	free(a->files);
	for (size_t i = 0; i < a->nr_permissions; i++)
		permission_release(&a->permissions[i]);
	free(a->permissions);
	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++) {
		struct appspec_hook *h = &a->hooks[ev];

		for (size_t i = 0; i < h->nr; i++) {
			free(h->scripts[i].location);
			free(h->scripts[i].runas);
		}
		free(h->scripts);
	}
	strvec_release(&a->warnings);
	strvec_release(&a->unknown_keys);
	memset(a, 0, sizeof(*a));
}

size_t appspec_nr_hooks(const struct appspec *a)
{
	size_t n = 0;

	for (int ev = 0; ev < APPSPEC_NEVENTS; ev++)
		n += a->hooks[ev].nr > 0;
	return n;
}

int appspec_find(const char *dir, char **path, struct sw_err *e)
{
	static const char *const names[] = { "appspec.yml", "appspec.yaml" };
	struct stat st;

	*path = NULL;
	if (stat(dir, &st) < 0)
		return err_sys(e, "'%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_SYSTEM, "'%s': not a directory", dir);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *p = fs_join(dir, names[i]);

		if (!stat(p, &st)) {
			if (S_ISREG(st.st_mode)) {
				*path = p;
				return 0;
			}
		} else if (errno != ENOENT && errno != ENOTDIR) {
			err_sys(e, "'%s'", p);
			free(p);
			return -1;
		}
		free(p);
	}
	return err_set(e, ERR_SPEC,
		       "'%s': no appspec.yml or appspec.yaml: did not find an "
		       "AppSpec file within the unpacked revision directory at "
		       "revision-relative path 'appspec.yml'",
		       dir);
}
