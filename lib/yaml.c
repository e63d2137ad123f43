#include "yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* libyaml's header: the project's directories are -iquote, so <yaml.h>
 * is never this module's own "yaml.h". */
#include <yaml.h>

#include "buf.h"
#include "xalloc.h"
#include "banned.h"

/* A file bigger than this is not a configuration file. */

/*
 * A tiny open-addressing index from byte strings to small integers, used
 * for anchors and for duplicate keys of a mapping (both must stay linear
 * on hostile input).
 */
struct strindex {
	size_t *slot; /* value + 1; 0 = empty */
	size_t cap, nr;
};

struct keyref {
	const char *s;
	size_t len;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void strindex_release(struct strindex *ix)
{
	free(ix->slot);
	ix->slot = NULL;
	ix->cap = ix->nr = 0;
}

/*
 * Find s among refs[] through the index; return its value or -1. When
 * absent and `add` >= 0, insert it with that value.
 */
static long strindex_lookup(struct strindex *ix, const struct keyref *refs,
			    const char *s, size_t len, long add)
{
	size_t mask, i;

	if (add >= 0 && (ix->nr + 1) * 2 > ix->cap) {
		size_t ncap = ix->cap ? ix->cap * 2 : 16;
		size_t *nslot = xcalloc(ncap, sizeof(*nslot));

		for (size_t j = 0; j < ix->cap; j++) {
			size_t v = ix->slot[j];

			if (!v)
				continue;
			i = hash_bytes(refs[v - 1].s, refs[v - 1].len) &
			    (ncap - 1);
			while (nslot[i])
				i = (i + 1) & (ncap - 1);
			nslot[i] = v;
		}
		free(ix->slot);
		ix->slot = nslot;
		ix->cap = ncap;
	}
	if (!ix->cap)
		return -1;
	mask = ix->cap - 1;
	for (i = hash_bytes(s, len) & mask; ix->slot[i]; i = (i + 1) & mask) {
		const struct keyref *r = &refs[ix->slot[i] - 1];

		if (r->len == len && !memcmp(r->s, s, len))
			return (long)ix->slot[i] - 1;
	}
	if (add >= 0) {
		ix->slot[i] = (size_t)add + 1;
		ix->nr++;
	}
	return -1;
}

/* An anchored node; a name may be defined again and then shadows. */
struct anchor {
	struct ynode *node;
	size_t weight;
	bool open; /* still being built: an alias to it would recurse */
};

struct frame {
	struct ynode *node;
	size_t weight;
	long anchor; /* index in loader.anchors, or -1 */
	struct ynode *key; /* mapping: a key waiting for its value */
	bool key_is_merge;
	/* mapping: `<<` values, and where in keys[] they were written */
	struct ynode **merge_src;
	size_t *merge_pos;
	size_t nr_merge, alloc_merge, alloc_merge_pos;
};

struct loader {
	struct ydoc *doc;
	struct sw_err *e;
	const struct ydoc_opts *opts; /* never NULL */
	struct frame *stack;
	size_t nr_stack, alloc_stack;
	struct anchor *anchors;
	size_t nr_anchors, alloc_anchors;
	/* anchors by name: names[] is parallel to name_of[] */
	struct keyref *names;
	size_t alloc_names;
	long *latest; /* name index -> latest anchor index */
	size_t nr_names, alloc_latest;
	struct strindex name_ix;
	bool had_alias;
	bool done;
};

static size_t sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* Copy of s fit for a one-line message: control bytes shown as '?'. */
static const char *shown(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (len > n && n + 4 >= size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static int ydoc_verr(const struct ydoc *doc, int line, int col,
		     struct sw_err *e, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	if (line > 0)
		buf_addf(&b, "%s:%d:%d: ", doc->file, line, col);
	else
		buf_addf(&b, "%s: ", doc->file);
	buf_vaddf(&b, fmt, ap);
	err_set(e, ERR_SPEC, "%s", buf_cstr(&b));
	buf_release(&b);
	return -1;
}

int ydoc_err(const struct ydoc *doc, const struct ynode *n, struct sw_err *e,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_verr(doc, n ? n->line : 1, n ? n->col : 1, e, fmt, ap);
	va_end(ap);
	return -1;
}

__attribute__((format(printf, 3, 4))) static int
ld_err(struct loader *ld, yaml_mark_t mark, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_verr(ld->doc, (int)mark.line + 1, (int)mark.column + 1, ld->e, fmt,
		  ap);
	va_end(ap);
	return -1;
}

static struct ynode *node_new(struct ydoc *doc, enum ynode_type type,
			      yaml_mark_t mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	n->line = mark.line + 1 > INT32_MAX ? INT32_MAX : (int)mark.line + 1;
	n->col = mark.column + 1 > INT32_MAX ? INT32_MAX : (int)mark.column + 1;
	ALLOC_GROW(doc->all, doc->nr_all + 1, doc->alloc_all);
	doc->all[doc->nr_all++] = n;
	return n;
}

static void node_push(struct ynode *n, struct ynode *key, struct ynode *val)
{
	size_t old = n->alloc;

	ALLOC_GROW(n->items, n->nr + 1, n->alloc);
	if (n->type == YNODE_MAP) {
		size_t ka = old;

		n->keys = xgrow(n->keys, sizeof(*n->keys), n->alloc, &ka);
		n->keys[n->nr] = key;
	}
	n->items[n->nr++] = val;
}

static void frame_release(struct frame *f)
{
	free(f->merge_src);
	free(f->merge_pos);
	memset(f, 0, sizeof(*f));
}

/* Register an anchor defined on node n; returns its index. */
static long anchor_define(struct loader *ld, const unsigned char *name,
			  struct ynode *n)
{
	const char *s = (const char *)name;
	size_t len = strlen(s);
	long a = (long)ld->nr_anchors, ni;

	ALLOC_GROW(ld->anchors, ld->nr_anchors + 1, ld->alloc_anchors);
	ld->anchors[ld->nr_anchors++] =
		(struct anchor){ .node = n, .weight = 1, .open = true };

	ni = strindex_lookup(&ld->name_ix, ld->names, s, len, -1);
	if (ni < 0) {
		ni = (long)ld->nr_names;
		ALLOC_GROW(ld->names, ld->nr_names + 1, ld->alloc_names);
		ALLOC_GROW(ld->latest, ld->nr_names + 1, ld->alloc_latest);
		ld->names[ni] = (struct keyref){ xstrndup(s, len), len };
		ld->nr_names++;
		strindex_lookup(&ld->name_ix, ld->names, s, len, ni);
	}
	ld->latest[ni] = a;
	return a;
}

static int check_weight(struct loader *ld, size_t w, yaml_mark_t mark)
{
	if (w <= YAML_MAX_EXPANDED)
		return 0;
	if (ld->had_alias)
		return ld_err(ld, mark,
			      "document expands to too many nodes (aliases)");
	return ld_err(ld, mark, "document has too many nodes");
}

static bool is_merge_key(const struct ynode *k)
{
	if (k->type != YNODE_SCALAR || k->len != 2 || memcmp(k->value, "<<", 2))
		return false;
	if (k->tag)
		return !strcmp(k->tag, "tag:yaml.org,2002:merge");
	return k->plain;
}

/* Hand a finished node (with its expanded weight) to its parent. */
static int add_child(struct loader *ld, struct ynode *n, size_t weight,
		     yaml_mark_t mark)
{
	struct frame *f;

	if (!ld->nr_stack) {
		ld->doc->root = n;
		return 0;
	}
	f = &ld->stack[ld->nr_stack - 1];
	f->weight = sat_add(f->weight, weight);
	if (check_weight(ld, f->weight, mark) < 0)
		return -1;
	if (f->node->type == YNODE_SEQ) {
		node_push(f->node, NULL, n);
		return 0;
	}
	if (!f->key) {
		if (n->type != YNODE_SCALAR)
			return ld_err(ld, mark, "mapping keys must be scalars");
		f->key = n;
		f->key_is_merge = is_merge_key(n);
		return 0;
	}
	if (f->key_is_merge) {
		ALLOC_GROW(f->merge_src, f->nr_merge + 1, f->alloc_merge);
		ALLOC_GROW(f->merge_pos, f->nr_merge + 1, f->alloc_merge_pos);
		f->merge_src[f->nr_merge] = n;
		f->merge_pos[f->nr_merge] = f->node->nr;
		f->nr_merge++;
	} else {
		node_push(f->node, f->key, n);
	}
	f->key = NULL;
	f->key_is_merge = false;
	return 0;
}

/*
 * Check a finished mapping for duplicate keys and splice in the pairs of
 * its `<<` values: explicit keys win, then earlier merge sources win over
 * later ones (YAML 1.1 merge key type).
 */
static int map_finish(struct loader *ld, struct frame *f)
{
	struct ynode *m = f->node;
	struct strindex ix = { 0 };
	struct keyref *refs = NULL;
	size_t nr_refs = 0, alloc_refs = 0;
	struct ynode **nkeys = NULL, **nitems = NULL;
	size_t nr = 0, alloc = 0, alloc_k = 0, kept = 0;
	size_t *at = NULL, *newpos = NULL;
	int ret = -1;

	ALLOC_GROW(refs, m->nr + 1, alloc_refs);
	/* at[] is where each key sits once later duplicates are folded
	 * into it; newpos[i] how many keys stay before key i */
	at = xcalloc(m->nr + 1, sizeof(*at));
	newpos = xcalloc(m->nr + 1, sizeof(*newpos));
	for (size_t i = 0; i < m->nr; i++) {
		struct ynode *k = m->keys[i];
		long prev;

		newpos[i] = kept;
		refs[nr_refs] = (struct keyref){ k->value, k->len };
		prev = strindex_lookup(&ix, refs, k->value, k->len,
				       (long)nr_refs);
		if (prev >= 0) {
			char s[80];
			struct ynode *first = m->keys[at[prev]];

			if (!ld->opts->dup_keys_last) {
				ydoc_err(ld->doc, k, ld->e,
					 "duplicate key '%s'",
					 shown(k->value, k->len, s, sizeof(s)));
				goto out;
			}
			if (ld->opts->warnings)
				ywarn(ld->doc, k, ld->opts->warnings,
				      "duplicate key '%s': replaces the value "
				      "at %d:%d (the last one wins, as the "
				      "agent reads it)",
				      shown(k->value, k->len, s, sizeof(s)),
				      first->line, first->col);
			/* Ruby's Hash: the first place, the last value */
			m->keys[at[prev]] = k;
			m->items[at[prev]] = m->items[i];
			continue;
		}
		at[nr_refs++] = kept;
		m->keys[kept] = k;
		m->items[kept++] = m->items[i];
	}
	newpos[m->nr] = kept;
	for (size_t mi = 0; mi < f->nr_merge; mi++)
		f->merge_pos[mi] = newpos[f->merge_pos[mi]];
	m->nr = kept;
	if (!f->nr_merge) {
		ret = 0;
		goto out;
	}

	for (size_t i = 0, mi = 0; i <= m->nr; i++) {
		for (; mi < f->nr_merge && f->merge_pos[mi] == i; mi++) {
			struct ynode *src = f->merge_src[mi];
			struct ynode *const *maps = &src;
			size_t nr_maps = 1;

			if (src->type == YNODE_SEQ) {
				maps = src->items;
				nr_maps = src->nr;
			}
			for (size_t j = 0; j < nr_maps; j++) {
				const struct ynode *sm = maps[j];

				if (sm->type != YNODE_MAP) {
					ydoc_err(ld->doc, sm, ld->e,
						 "merge key '<<' needs a "
						 "mapping "
						 "or a sequence of mappings");
					goto out;
				}
				for (size_t k = 0; k < sm->nr; k++) {
					struct ynode *key = sm->keys[k];

					ALLOC_GROW(refs, nr_refs + 1,
						   alloc_refs);
					refs[nr_refs] =
						(struct keyref){ key->value,
								 key->len };
					if (strindex_lookup(&ix, refs,
							    key->value,
							    key->len,
							    (long)nr_refs) >= 0)
						continue;
					nr_refs++;
					ALLOC_GROW(nitems, nr + 1, alloc);
					nkeys = xgrow(nkeys, sizeof(*nkeys),
						      alloc, &alloc_k);
					nkeys[nr] = key;
					nitems[nr++] = sm->items[k];
				}
			}
		}
		if (i == m->nr)
			break;
		ALLOC_GROW(nitems, nr + 1, alloc);
		nkeys = xgrow(nkeys, sizeof(*nkeys), alloc, &alloc_k);
		nkeys[nr] = m->keys[i];
		nitems[nr++] = m->items[i];
	}
	free(m->keys);
	free(m->items);
	m->keys = nkeys;
	m->items = nitems;
	m->nr = nr;
	m->alloc = alloc;
	nkeys = nitems = NULL;
	ret = 0;
out:
	free(nkeys);
	free(nitems);
	free(refs);
	free(at);
	free(newpos);
	strindex_release(&ix);
	return ret;
}

static int on_start(struct loader *ld, enum ynode_type type,
		    const unsigned char *anchor, const unsigned char *tag,
		    yaml_mark_t mark)
{
	struct ynode *n;
	struct frame *f;

	if (ld->nr_stack >= YAML_MAX_DEPTH)
		return ld_err(ld, mark,
			      "nesting too deep (more than %d levels)",
			      YAML_MAX_DEPTH);
	n = node_new(ld->doc, type, mark);
	if (tag)
		n->tag = xstrdup((const char *)tag);
	ALLOC_GROW(ld->stack, ld->nr_stack + 1, ld->alloc_stack);
	f = &ld->stack[ld->nr_stack++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->weight = 1;
	f->anchor = anchor ? anchor_define(ld, anchor, n) : -1;
	return 0;
}

static int on_end(struct loader *ld, yaml_mark_t end)
{
	struct frame f;
	struct ynode *n;
	size_t weight;
	yaml_mark_t start;

	if (!ld->nr_stack)
		return ld_err(ld, end, "unbalanced document");
	f = ld->stack[--ld->nr_stack];
	start.line = (size_t)f.node->line - 1;
	start.column = (size_t)f.node->col - 1;
	start.index = 0;
	if (f.node->type == YNODE_MAP && map_finish(ld, &f) < 0)
		goto fail;
	if (f.anchor >= 0) {
		ld->anchors[f.anchor].weight = f.weight;
		ld->anchors[f.anchor].open = false;
	}
	if (check_weight(ld, f.weight, start) < 0)
		goto fail;
	n = f.node;
	weight = f.weight;
	frame_release(&f);
	return add_child(ld, n, weight, start);
fail:
	frame_release(&f);
	return -1;
}

static int on_scalar(struct loader *ld, const yaml_event_t *ev)
{
	struct ynode *n = node_new(ld->doc, YNODE_SCALAR, ev->start_mark);
	size_t len = ev->data.scalar.length;

	n->value = xmalloc(len + 1);
	memcpy(n->value, ev->data.scalar.value, len);
	n->value[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (ev->data.scalar.tag)
		n->tag = xstrdup((const char *)ev->data.scalar.tag);
	if (ev->data.scalar.anchor) {
		long a = anchor_define(ld, ev->data.scalar.anchor, n);

		ld->anchors[a].open = false;
	}
	return add_child(ld, n, 1, ev->start_mark);
}

static int on_alias(struct loader *ld, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t len = strlen(name);
	const struct anchor *a;
	char s[80];
	long ni;

	ld->had_alias = true;
	ni = strindex_lookup(&ld->name_ix, ld->names, name, len, -1);
	if (ni < 0)
		return ld_err(ld, ev->start_mark, "undefined alias '%s'",
			      shown(name, len, s, sizeof(s)));
	a = &ld->anchors[ld->latest[ni]];
	if (a->open)
		return ld_err(ld, ev->start_mark, "recursive alias '%s'",
			      shown(name, len, s, sizeof(s)));
	if (check_weight(ld, a->weight, ev->start_mark) < 0)
		return -1;
	return add_child(ld, a->node, a->weight, ev->start_mark);
}

static int on_event(struct loader *ld, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return on_scalar(ld, ev);
	case YAML_ALIAS_EVENT:
		return on_alias(ld, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(ld, YNODE_SEQ, ev->data.sequence_start.anchor,
				ev->data.sequence_start.tag, ev->start_mark);
	case YAML_MAPPING_START_EVENT:
		return on_start(ld, YNODE_MAP, ev->data.mapping_start.anchor,
				ev->data.mapping_start.tag, ev->start_mark);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(ld, ev->start_mark);
	case YAML_DOCUMENT_END_EVENT:
	case YAML_STREAM_END_EVENT:
		ld->done = true;
		return 0;
	default:
		return 0;
	}
}

/* Line and column (1-based) of a byte offset, for reader errors. */
static void offset_pos(const char *data, size_t len, size_t off, int *line,
		       int *col)
{
	int l = 1, c = 1;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			l = l < INT32_MAX ? l + 1 : l;
			c = 1;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			c = c < INT32_MAX ? c + 1 : c;
		}
	}
	*line = l;
	*col = c;
}

static int parser_err(struct loader *ld, const yaml_parser_t *p,
		      const char *data, size_t len)
{
	const char *problem = p->problem ? p->problem : "unknown error";
	int line, col;

	if (p->error == YAML_MEMORY_ERROR)
		return err_set(ld->e, ERR_SYSTEM, "%s: out of memory",
			       ld->doc->file);
	if (p->error == YAML_READER_ERROR) {
		offset_pos(data, len, p->problem_offset, &line, &col);
		if (p->problem_value >= 0)
			return ydoc_err(
				ld->doc,
				&(struct ynode){ .line = line, .col = col },
				ld->e, "%s (byte 0x%02x)", problem,
				(unsigned)p->problem_value & 0xff);
		return ydoc_err(ld->doc,
				&(struct ynode){ .line = line, .col = col },
				ld->e, "%s", problem);
	}
	if (p->context)
		return ld_err(ld, p->problem_mark, "%s (%s started at %d:%d)",
			      problem, p->context,
			      (int)p->context_mark.line + 1,
			      (int)p->context_mark.column + 1);
	return ld_err(ld, p->problem_mark, "%s", problem);
}

static void loader_release(struct loader *ld)
{
	for (size_t i = 0; i < ld->nr_stack; i++)
		frame_release(&ld->stack[i]);
	free(ld->stack);
	free(ld->anchors);
	for (size_t i = 0; i < ld->nr_names; i++)
		free((char *)ld->names[i].s);
	free(ld->names);
	free(ld->latest);
	strindex_release(&ld->name_ix);
}

int ydoc_load(const char *name, const char *data, size_t len, struct ydoc *doc,
	      struct sw_err *e)
{
	return ydoc_load_opts(name, data, len, NULL, doc, e);
}

int ydoc_load_opts(const char *name, const char *data, size_t len,
		   const struct ydoc_opts *opts, struct ydoc *doc,
		   struct sw_err *e)
{
	static const struct ydoc_opts defaults = YDOC_OPTS_INIT;
	struct loader ld = { .doc = doc,
			     .e = e,
			     .opts = opts ? opts : &defaults };
	yaml_parser_t parser;
	yaml_event_t ev;
	int ret = -1;

	memset(doc, 0, sizeof(*doc));
	if (len > YAML_MAX_FILE)
		return err_set(e, ERR_SPEC, "%s: file too large (over %d MiB)",
			       name ? name : "<input>",
			       YAML_MAX_FILE / (1024 * 1024));
	doc->file = xstrdup(name ? name : "<input>");
	if (!yaml_parser_initialize(&parser)) {
		err_set(e, ERR_SYSTEM, "%s: cannot initialize yaml parser",
			doc->file);
		goto out_doc;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!ld.done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			parser_err(&ld, &parser, data, len);
			goto out;
		}
		if (on_event(&ld, &ev) < 0) {
			yaml_event_delete(&ev);
			goto out;
		}
		yaml_event_delete(&ev);
	}
	if (doc->root && doc->root->type == YNODE_SCALAR && !doc->root->len &&
	    doc->root->plain && !doc->root->tag)
		doc->root = NULL;
	ret = 0;
out:
	yaml_parser_delete(&parser);
	loader_release(&ld);
out_doc:
	if (ret < 0) {
		if (!e->code)
			err_set(e, ERR_SPEC, "%s: cannot parse yaml",
				doc->file);
		ydoc_release(doc);
	}
	return ret;
}

int ydoc_load_file(const char *path, struct ydoc *doc, struct sw_err *e)
{
	return ydoc_load_file_as(path, path, doc, e);
}

int ydoc_load_file_as(const char *path, const char *name, struct ydoc *doc,
		      struct sw_err *e)
{
	return ydoc_load_file_opts(path, name, NULL, doc, e);
}

int ydoc_load_file_opts(const char *path, const char *name,
			const struct ydoc_opts *opts, struct ydoc *doc,
			struct sw_err *e)
{
	struct buf b = BUF_INIT;
	struct stat st;
	char chunk[65536];
	int fd, ret = -1;

	memset(doc, 0, sizeof(*doc));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_SPEC, "%s: cannot open: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) < 0) {
		err_set(e, ERR_SPEC, "%s: cannot stat: %s", path,
			strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err_set(e, ERR_SPEC, "%s: is a directory", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(e, ERR_SPEC, "%s: cannot read: %s", path,
				strerror(errno));
			goto out;
		}
		if (!n)
			break;
		if (b.len + (size_t)n > YAML_MAX_FILE) {
			err_set(e, ERR_SPEC, "%s: file too large (over %d MiB)",
				name, YAML_MAX_FILE / (1024 * 1024));
			goto out;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	ret = ydoc_load_opts(name, b.ptr ? b.ptr : "", b.len, opts, doc, e);
out:
	close(fd);
	buf_release(&b);
	return ret;
}

void ydoc_release(struct ydoc *doc)
{
	for (size_t i = 0; i < doc->nr_all; i++) {
		struct ynode *n = doc->all[i];

		free(n->value);
		free(n->tag);
		free(n->items);
		free(n->keys);
		free(n);
	}
	free(doc->all);
	free(doc->file);
	memset(doc, 0, sizeof(*doc));
}

const struct ynode *ynode_map_get(const struct ynode *n, const char *key)
{
	size_t len;

	if (!n || n->type != YNODE_MAP || !key)
		return NULL;
	len = strlen(key);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *k = n->keys[i];

		if (k->len == len && !memcmp(k->value, key, len))
			return n->items[i];
	}
	return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!n)
		return true;
	if (n->type != YNODE_SCALAR)
		return false;
	if (n->tag)
		return !strcmp(n->tag, "tag:yaml.org,2002:null");
	if (!n->plain)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!strcmp(n->value, nulls[i]) && n->len == strlen(nulls[i]))
			return true;
	return false;
}

int ynode_bool(const struct ynode *n, bool *out)
{
	static const char *const yes[] = { "y",	  "Y",	  "yes",  "Yes",
					   "YES", "true", "True", "TRUE",
					   "on",  "On",	  "ON" };
	static const char *const no[] = { "n",	 "N",	  "no",	   "No",
					  "NO",	 "false", "False", "FALSE",
					  "off", "Off",	  "OFF" };

	if (!n || n->type != YNODE_SCALAR || strlen(n->value) != n->len)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (!strcmp(n->value, yes[i])) {
			*out = true;
			return 0;
		}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (!strcmp(n->value, no[i])) {
			*out = false;
			return 0;
		}
	return -1;
}

const char *ynode_kind(const struct ynode *n)
{
	if (!n)
		return "null";
	switch (n->type) {
	case YNODE_SCALAR:
		return "scalar";
	case YNODE_SEQ:
		return "sequence";
	case YNODE_MAP:
		return "mapping";
	}
	return "node";
}

struct yshown yshow(const char *s, size_t len)
{
	struct yshown out;
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < sizeof(out.s); i++) {
		unsigned char c = (unsigned char)s[i];

		out.s[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(out.s + n, "...", 3);
		n += 3;
	}
	out.s[n] = '\0';
	return out;
}

struct yshown yshown(const struct ynode *n)
{
	if (!n || n->type != YNODE_SCALAR)
		return yshow("", 0);
	return yshow(n->value, n->len);
}

void ywarn(const struct ydoc *doc, const struct ynode *n,
	   struct strvec *warnings, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	buf_addf(&b, "%s:%d:%d: ", doc->file, n ? n->line : 1, n ? n->col : 1);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	strvec_push_nodup(warnings, buf_detach(&b));
}

bool ykey_is(const struct ynode *k, const char *name)
{
	return k->len == strlen(name) && !memcmp(k->value, name, k->len);
}

bool ynode_has_nul(const struct ynode *n)
{
	return strlen(n->value) != n->len;
}

const struct ynode *ynode_at(const struct ynode *v, const struct ynode *k)
{
	return v && !(ynode_is_null(v) && !v->len) ? v : k;
}

int ynode_strlist(const struct ydoc *doc, const struct ynode *n,
		  const char *path, struct strvec *out, struct sw_err *e)
{
	if (ynode_is_null(n))
		return 0;
	if (n->type == YNODE_SCALAR) {
		if (ynode_has_nul(n))
			return ydoc_err(doc, n, e,
					"'%s' must not contain a NUL character",
					path);
		strvec_push(out, n->value);
		return 0;
	}
	if (n->type != YNODE_SEQ)
		return ydoc_err(doc, n, e, "'%s' must be a sequence", path);
	for (size_t i = 0; i < n->nr; i++) {
		const struct ynode *it = n->items[i];

		if (ynode_is_null(it))
			continue;
		if (it->type != YNODE_SCALAR)
			return ydoc_err(doc, it, e,
					"'%s' items must be strings, not a %s",
					path, ynode_kind(it));
		if (ynode_has_nul(it))
			return ydoc_err(doc, it, e,
					"'%s' must not contain a NUL character",
					path);
		strvec_push(out, it->value);
	}
	return 0;
}
