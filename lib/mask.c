#include "mask.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "banned.h"

/*
 * With this many distinct first bytes or fewer, candidates are found with
 * one memchr() per byte (each result cached until passed); with more, a
 * byte-by-byte table lookup is cheaper.
 */
#define MASK_MEMCHR_MAX 4

enum match { MATCH_NONE, MATCH_FULL, MATCH_PARTIAL };

void mask_init(struct mask *m)
{
	memset(m, 0, sizeof(*m));
}

static int secret_cmp(const void *a, const void *b)
{
	const struct mask_secret *x = a, *y = b;
	unsigned char cx = (unsigned char)x->s[0];
	unsigned char cy = (unsigned char)y->s[0];

	if (cx != cy)
		return cx < cy ? -1 : 1;
	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return 0;
}

static void reindex(struct mask *m)
{
	size_t i;

	qsort(m->secrets, m->nr, sizeof(*m->secrets), secret_cmp);
	memset(m->by_first, 0, sizeof(m->by_first));
	memset(m->nr_first, 0, sizeof(m->nr_first));
	m->nr_firsts = 0;
	m->maxlen = 0;
	for (i = 0; i < m->nr; i++) {
		unsigned char c = (unsigned char)m->secrets[i].s[0];

		if (!m->nr_first[c]) {
			m->by_first[c] = i;
			m->firsts[m->nr_firsts++] = c;
		}
		m->nr_first[c]++;
		if (m->secrets[i].len > m->maxlen)
			m->maxlen = m->secrets[i].len;
	}
}

static void add_one(struct mask *m, const char *s, size_t len)
{
	size_t i;

	if (!len)
		return;
	for (i = 0; i < m->nr; i++)
		if (m->secrets[i].len == len &&
		    !memcmp(m->secrets[i].s, s, len))
			return;
	ALLOC_GROW(m->secrets, m->nr + 1, m->alloc);
	m->secrets[m->nr].s = xstrndup(s, len);
	m->secrets[m->nr].len = len;
	m->nr++;
	reindex(m);
}

void mask_add(struct mask *m, const char *secret)
{
	size_t len, body;
	const char *p, *end, *nl;

	if (!secret || !*secret)
		return;
	len = strlen(secret);
	add_one(m, secret, len);

	/* without the final line ending */
	body = len;
	if (body && secret[body - 1] == '\n') {
		body--;
		if (body && secret[body - 1] == '\r')
			body--;
	}
	if (!memchr(secret, '\n', body)) {
		add_one(m, secret, body);
		return;
	}

	/* each long enough line of a multi-line secret */
	p = secret;
	end = secret + body;
	while (p < end) {
		size_t n;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		n = (size_t)(nl - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n >= MASK_MIN_LINE)
			add_one(m, p, n);
		p = nl + 1;
	}
}

/*
 * Does a secret start at p[at]? MATCH_FULL sets *mlen to the longest one
 * that matches whole. MATCH_PARTIAL: p ends inside a secret that could
 * still match (never when final), so nothing at or after `at` can be
 * decided yet. Secrets are sorted longest first, so a longer secret that
 * could still match wins over a shorter one that already does.
 */
static enum match match_at(const struct mask *m, const char *p, size_t n,
			   size_t at, int final, size_t *mlen)
{
	unsigned char c = (unsigned char)p[at];
	const struct mask_secret *s = m->secrets + m->by_first[c];
	const struct mask_secret *e = s + m->nr_first[c];
	size_t avail = n - at;

	for (; s < e; s++) {
		if (avail >= s->len) {
			if (!memcmp(p + at, s->s, s->len)) {
				*mlen = s->len;
				return MATCH_FULL;
			}
		} else if (!final && !memcmp(p + at, s->s, avail)) {
			return MATCH_PARTIAL;
		}
	}
	return MATCH_NONE;
}

struct cand {
	size_t next[MASK_MEMCHR_MAX]; /* SIZE_MAX: not searched yet */
};

/* The first position in [from, end) holding a secret's first byte, or end. */
static size_t next_candidate(const struct mask *m, struct cand *cd,
			     const char *p, size_t from, size_t end)
{
	size_t best = end, k;

	if (m->nr_firsts > MASK_MEMCHR_MAX) {
		const unsigned char *u = (const unsigned char *)p;

		while (from < end && !m->nr_first[u[from]])
			from++;
		return from;
	}
	for (k = 0; k < m->nr_firsts; k++) {
		if (cd->next[k] == SIZE_MAX || cd->next[k] < from) {
			const char *r = NULL;

			if (from < end)
				r = memchr(p + from, m->firsts[k], end - from);
			cd->next[k] = r ? (size_t)(r - p) : end;
		}
		if (cd->next[k] < best)
			best = cd->next[k];
	}
	return best;
}

/*
 * Append the masked form of p[0..n) to out, deciding only secrets that
 * start below `limit` (<= n). Returns where it stopped: at or after
 * limit, or, unless final, at the start of a secret that p ends inside
 * of; the caller keeps p[returned..n).
 */
static size_t scan(const struct mask *m, const char *p, size_t n, size_t limit,
		   int final, struct buf *out)
{
	struct cand cd;
	size_t i = 0, emitted = 0, c, mlen = 0, k;

	for (k = 0; k < MASK_MEMCHR_MAX; k++)
		cd.next[k] = SIZE_MAX;
	while (i < limit) {
		c = next_candidate(m, &cd, p, i, limit);
		if (c >= limit) {
			i = limit;
			break;
		}
		switch (match_at(m, p, n, c, final, &mlen)) {
		case MATCH_FULL:
			buf_add(out, p + emitted, c - emitted);
			buf_add(out, MASK_REPLACEMENT,
				sizeof(MASK_REPLACEMENT) - 1);
			i = c + mlen;
			emitted = i;
			break;
		case MATCH_PARTIAL:
			buf_add(out, p + emitted, c - emitted);
			return c;
		case MATCH_NONE:
			i = c + 1;
			break;
		}
	}
	if (i > emitted)
		buf_add(out, p + emitted, i - emitted);
	return i;
}

static void feed(const struct mask *m, struct buf *hold, const char *data,
		 size_t len, struct buf *out)
{
	size_t off = 0, stop;

	if (!m->nr) {
		if (hold->len) {
			buf_add(out, hold->ptr, hold->len);
			buf_clear(hold);
		}
		buf_add(out, data, len);
		return;
	}
	if (hold->len) {
		/*
		 * Join the held tail with just enough new bytes to decide
		 * every secret that starts inside the tail; the rest of data
		 * is scanned in place.
		 */
		size_t hlen = hold->len;
		size_t k = len < m->maxlen ? len : m->maxlen;

		buf_add(hold, data, k);
		if (k == len) {
			stop = scan(m, hold->ptr, hold->len, hold->len, 0, out);
			buf_consume(hold, stop);
			return;
		}
		stop = scan(m, hold->ptr, hold->len, hlen, 0, out);
		if (stop < hlen || stop > hold->len)
			BUG("mask: held tail not decided");
		off = stop - hlen;
		buf_clear(hold);
	}
	stop = scan(m, data + off, len - off, len - off, 0, out);
	if (off + stop < len)
		buf_add(hold, data + off + stop, len - off - stop);
}

static void flush(const struct mask *m, struct buf *hold, struct buf *out)
{
	if (!hold->len)
		return;
	mask_buf(m, hold->ptr, hold->len, out);
	buf_clear(hold);
}

void mask_feed(struct mask *m, const char *data, size_t len, struct buf *out)
{
	feed(m, &m->hold, data, len, out);
}

void mask_flush(struct mask *m, struct buf *out)
{
	flush(m, &m->hold, out);
}

void mask_stream_feed(struct mask_stream *st, const char *data, size_t len,
		      struct buf *out)
{
	feed(st->m, &st->hold, data, len, out);
}

void mask_stream_flush(struct mask_stream *st, struct buf *out)
{
	flush(st->m, &st->hold, out);
}

void mask_stream_release(struct mask_stream *st)
{
	buf_release(&st->hold);
}

void mask_buf(const struct mask *m, const char *data, size_t len,
	      struct buf *out)
{
	if (!m->nr) {
		buf_add(out, data, len);
		return;
	}
	scan(m, data, len, len, 1, out);
}

char *mask_string(const struct mask *m, const char *s)
{
	struct buf b = BUF_INIT;

	if (s)
		mask_buf(m, s, strlen(s), &b);
	return buf_detach(&b);
}

void mask_release(struct mask *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		free(m->secrets[i].s);
	free(m->secrets);
	buf_release(&m->hold);
	mask_init(m);
}
