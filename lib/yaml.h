/*
 * yaml: libyaml's event stream turned into a small node tree that keeps
 * file:line:col for every node, so that schema errors can say where.
 *
 *   struct ydoc doc = YDOC_INIT;
 *   if (ydoc_load_file("buildspec.yml", &doc, &e) < 0)
 *           -- e.code == ERR_SPEC, "buildspec.yml:3:5: did not find ..."
 *   const struct ynode *phases = ynode_map_get(doc.root, "phases");
 *   ...
 *   ydoc_release(&doc);
 *
 * Only the first document of a stream is read. Anchors and aliases are
 * resolved by sharing nodes (an alias points at the anchored node), and
 * the expanded size of the whole document is bounded (YAML_MAX_EXPANDED
 * nodes) so that a "billion laughs" file is refused, not obeyed. YAML 1.1
 * merge keys (<<: *anchor, <<: [*a, *b]) are applied. A mapping with the
 * same key twice is an error (or, with ydoc_opts.dup_keys_last, the last
 * value wins in the first key's place, as Ruby's Psych reads it, with a
 * warning). Nesting deeper than YAML_MAX_DEPTH is an
 * error. Lines and columns are 1-based (libyaml's marks are 0-based).
 */
#ifndef SW_YAML_H
#define SW_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "strvec.h"

#define YAML_MAX_EXPANDED 1000000
#define YAML_MAX_DEPTH 256
/* The largest file or buffer read: more is ERR_SPEC "file too large". */
#define YAML_MAX_FILE (16 * 1024 * 1024)

enum ynode_type { YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
	enum ynode_type type;
	int line, col;
	/* scalars */
	char *value; /* NUL-terminated; may contain NULs (len counts) */
	size_t len;
	bool plain; /* unquoted plain scalar (YAML 1.1 typing applies) */
	char *tag; /* explicit tag, e.g. "tag:yaml.org,2002:str", or NULL */
	/* sequences: items[0..nr); mappings: keys[i] -> items[i] */
	struct ynode **items;
	struct ynode **keys;
	size_t nr, alloc;
};

struct ydoc {
	char *file; /* name used in messages */
	struct ynode *root; /* NULL for an empty document */
	/* every node allocated, for release */
	struct ynode **all;
	size_t nr_all, alloc_all;
};

#define YDOC_INIT                                                              \
	{                                                                      \
		0                                                              \
	}

/* Load a file / a buffer. On failure the doc is left released. */
int ydoc_load_file(const char *path, struct ydoc *doc, struct sw_err *e);
/* Load the file at path, naming it name in messages and in doc->file
 * (the name the user knows it by, e.g. inside a bundle). */
int ydoc_load_file_as(const char *path, const char *name, struct ydoc *doc,
		      struct sw_err *e);
int ydoc_load(const char *name, const char *data, size_t len, struct ydoc *doc,
	      struct sw_err *e);
void ydoc_release(struct ydoc *doc);

/* How to load; YDOC_OPTS_INIT (or NULL) is what ydoc_load() does. */
struct ydoc_opts {
	/* A key written twice in a mapping: the last value is kept, in the
	 * first key's place, and a "file:line:col: duplicate key ..."
	 * warning is pushed onto warnings (when not NULL). Default: an
	 * error. */
	bool dup_keys_last;
	struct strvec *warnings;
};

#define YDOC_OPTS_INIT                                                         \
	{                                                                      \
		0                                                              \
	}

int ydoc_load_opts(const char *name, const char *data, size_t len,
		   const struct ydoc_opts *opts, struct ydoc *doc,
		   struct sw_err *e);
int ydoc_load_file_opts(const char *path, const char *name,
			const struct ydoc_opts *opts, struct ydoc *doc,
			struct sw_err *e);

/* The value for a key of a mapping, or NULL (also when n is no map). */
const struct ynode *ynode_map_get(const struct ynode *n, const char *key);

/* A plain scalar "", "~", "null", "Null", "NULL", or a NULL node. */
bool ynode_is_null(const struct ynode *n);

/*
 * YAML 1.1 boolean of a scalar: y Y yes Yes YES true True TRUE on On ON
 * and n N no No NO false False FALSE off Off OFF. Returns 0 and sets *out,
 * or -1 when the scalar is not a boolean (quoted scalars are accepted too,
 * as real buildspecs quote them).
 */
int ynode_bool(const struct ynode *n, bool *out);

/* "mapping", "sequence", "scalar" for messages. */
const char *ynode_kind(const struct ynode *n);

/* Set e to "<doc.file>:<line>:<col>: <message>" with code ERR_SPEC. */
int ydoc_err(const struct ydoc *doc, const struct ynode *n, struct sw_err *e,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * For the parsers built on this one: a key or value fit for a one-line
 * message (control characters shown as '?', cut with "..." past 75
 * bytes), and a warning "<file>:<line>:<col>: <message>" pushed onto a
 * list.
 */
struct yshown {
	char s[80];
};

struct yshown yshow(const char *s, size_t len);
/* The key (a scalar) is exactly name. */
bool ykey_is(const struct ynode *k, const char *name);
/* The scalar holds a NUL byte. */
bool ynode_has_nul(const struct ynode *n);
/* Where to point for a value: an empty null value has no place of its
 * own worth showing, so its key's. */
const struct ynode *ynode_at(const struct ynode *v, const struct ynode *k);
/* A list of strings (a single string is a list of one, null is none)
 * appended to out; "'<path>' must be a sequence" and the like as
 * ERR_SPEC with the place. */
int ynode_strlist(const struct ydoc *doc, const struct ynode *n,
		  const char *path, struct strvec *out, struct sw_err *e);
/* The text of a scalar node; "" for anything else. */
struct yshown yshown(const struct ynode *n);
void ywarn(const struct ydoc *doc, const struct ynode *n,
	   struct strvec *warnings, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
