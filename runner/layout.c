#include "layout.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

char *layout_src_name(void)
{
	unsigned int n = 0;

	if (getrandom(&n, sizeof(n), 0) != sizeof(n))
		n = (unsigned int)getpid() * 2654435761U;
	return xasprintf("src%u", n % 1000000000U);
}

static const char *const forges[] = { "github.com", "gitlab.com",
				      "bitbucket.org" };

static bool is_forge(const char *host, size_t len)
{
	for (size_t i = 0; i < sizeof(forges) / sizeof(forges[0]); i++)
		if (strlen(forges[i]) == len &&
		    !strncasecmp(host, forges[i], len))
			return true;
	return false;
}

static bool name_ok(const char *s, size_t len)
{
	if (!len || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* "<host>/<path>" from a host and a repository path, or NULL. */
static char *forge_path(const char *host, size_t hlen, const char *path)
{
	struct buf b = BUF_INIT;
	size_t len = strlen(path), parts = 0;
	const char *p, *end;

	while (*path == '/')
		path++, len--;
	while (len && path[len - 1] == '/')
		len--;
	if (len > 4 && !strncmp(path + len - 4, ".git", 4))
		len -= 4;
	while (len && path[len - 1] == '/')
		len--;
	if (!is_forge(host, hlen) || !len)
		return NULL;
	for (size_t i = 0; i < hlen; i++)
		buf_addch(&b, (char)tolower((unsigned char)host[i]));
	for (p = path; p < path + len; p = end + 1) {
		end = memchr(p, '/', (size_t)(path + len - p));
		if (!end)
			end = path + len;
		if (!name_ok(p, (size_t)(end - p))) {
			buf_release(&b);
			return NULL;
		}
		buf_addch(&b, '/');
		buf_add(&b, p, (size_t)(end - p));
		parts++;
	}
	if (parts < 2) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

char *layout_repo_path(const char *source)
{
	const char *s = strstr(source, "://"), *host, *hend, *at;

	if (s) {
		static const char *const schemes[] = { "https", "http", "ssh",
						       "git", "git+ssh" };
		size_t sl = (size_t)(s - source);
		bool known = false;

		for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]);
		     i++)
			known = known || (strlen(schemes[i]) == sl &&
					  !strncasecmp(source, schemes[i], sl));
		if (!known)
			return NULL;
		host = s + 3;
		hend = host + strcspn(host, "/");
		at = memchr(host, '@', (size_t)(hend - host));
		if (at)
			host = at + 1;
		s = memchr(host, ':', (size_t)(hend - host));
		if (!*hend)
			return NULL;
		return forge_path(host, (size_t)((s ? s : hend) - host), hend);
	}
	/* scp-like: [user@]host:path, with no '/' before the ':' */
	s = strchr(source, ':');
	if (!s || memchr(source, '/', (size_t)(s - source)))
		return NULL;
	at = memchr(source, '@', (size_t)(s - source));
	host = at ? at + 1 : source;
	return forge_path(host, (size_t)(s - host), s + 1);
}

bool layout_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (!n || n > 127)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_')
			return false;
	return true;
}

/* Whether s, before an "@REF", is a whole source by itself. */
static bool whole_source(const char *s, size_t len)
{
	const char *sep = NULL;

	for (size_t i = 0; i + 2 < len; i++)
		if (!strncmp(s + i, "://", 3)) {
			sep = s + i + 3;
			break;
		}
	if (sep) /* a URL needs a path after its host */
		return memchr(sep, '/', (size_t)(s + len - sep)) != NULL;
	/* "user@host:path" has its ':' after the '@': REF would hold it */
	return len > 0;
}

int layout_parse_secondary(const char *arg, struct layout_secondary *s,
			   struct sw_err *e)
{
	const char *eq = strchr(arg, '='), *src, *at;
	size_t len;

	if (!eq)
		return err_set(e, ERR_USAGE,
			       "secondary source '%s' is not ID=SOURCE", arg);
	s->id = xstrndup(arg, (size_t)(eq - arg));
	if (!layout_id_valid(s->id)) {
		err_set(e, ERR_USAGE,
			"bad secondary source identifier '%s' (1-127 letters, "
			"digits and '_')",
			s->id);
		layout_secondary_release(s);
		return -1;
	}
	src = eq + 1;
	len = strlen(src);
	at = strrchr(src, '@');
	if (at && at[1] && !strchr(at + 1, ':') &&
	    whole_source(src, (size_t)(at - src))) {
		s->ref = xstrdup(at + 1);
		len = (size_t)(at - src);
	}
	if (!len) {
		layout_secondary_release(s);
		return err_set(e, ERR_USAGE, "secondary source '%s' is empty",
			       arg);
	}
	s->source = xstrndup(src, len);
	return 0;
}

void layout_secondary_release(struct layout_secondary *s)
{
	free(s->id);
	free(s->source);
	free(s->ref);
	s->id = s->source = s->ref = NULL;
}

int layout_add_secondary(struct layout_secondary **v, size_t *nr, size_t *alloc,
			 const char *arg, struct sw_err *e)
{
	struct layout_secondary s = LAYOUT_SECONDARY_INIT;

	if (layout_parse_secondary(arg, &s, e) < 0)
		return -1;
	for (size_t i = 0; i < *nr; i++) {
		if (strcmp((*v)[i].id, s.id))
			continue;
		err_set(e, ERR_USAGE, "secondary source '%s' given twice",
			s.id);
		layout_secondary_release(&s);
		return -1;
	}
	ALLOC_GROW(*v, *nr + 1, *alloc);
	(*v)[(*nr)++] = s;
	return 0;
}

void layout_secondaries_free(struct layout_secondary *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		layout_secondary_release(&v[i]);
	free(v);
}

bool layout_overlaps(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;

	if (strncmp(a, b, n))
		return false;
	return la == lb || (la < lb ? b[la] == '/' : a[lb] == '/');
}
