#include "yaml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "banned.h"

struct fx {
	struct ydoc doc;
	struct sw_err e;
};

static int load(struct fx *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	return ydoc_load("t.yml", text, strlen(text), &f->doc, &f->e);
}

static void load_ok(struct fx *f, const char *text)
{
	int rc = load(f, text);

	if (rc < 0)
		fail_msg("unexpected error: %s", f->e.msg);
}

/* Loading must fail with exactly `msg` ("t.yml:L:C: ..."). */
static void load_err(const char *text, const char *msg)
{
	struct fx f;

	assert_int_equal(load(&f, text), -1);
	assert_int_equal(f.e.code, ERR_SPEC);
	assert_string_equal(f.e.msg, msg);
	assert_null(f.doc.root);
	assert_null(f.doc.all);
}

static const struct ynode *get(const struct ynode *n, const char *key)
{
	const struct ynode *v = ynode_map_get(n, key);

	if (!v)
		fail_msg("no key '%s'", key);
	return v;
}

static void test_yaml__scalars_kept_as_written(void **state)
{
	struct fx f;
	const struct ynode *r;

	(void)state;
	load_ok(&f, "a: 9\nb: yes\nc: 0x1F\nd: \"quoted\"\ne: ~\n"
		    "f: 1e3\ng: 010\nh: 'on'\ni:\nj: true\n");
	r = f.doc.root;
	assert_int_equal(r->type, YNODE_MAP);
	assert_int_equal(r->nr, 10);
	assert_string_equal(get(r, "a")->value, "9");
	assert_true(get(r, "a")->plain);
	assert_string_equal(get(r, "b")->value, "yes");
	assert_string_equal(get(r, "c")->value, "0x1F");
	assert_string_equal(get(r, "d")->value, "quoted");
	assert_false(get(r, "d")->plain);
	assert_string_equal(get(r, "e")->value, "~");
	assert_true(ynode_is_null(get(r, "e")));
	assert_string_equal(get(r, "f")->value, "1e3");
	assert_string_equal(get(r, "g")->value, "010");
	assert_string_equal(get(r, "h")->value, "on");
	assert_false(get(r, "h")->plain);
	assert_true(ynode_is_null(get(r, "i")));
	assert_string_equal(get(r, "j")->value, "true");
	assert_null(ynode_map_get(r, "missing"));
	assert_null(ynode_map_get(get(r, "a"), "x"));
	ydoc_release(&f.doc);
	assert_null(f.doc.all);
}

static void test_yaml__positions_are_one_based(void **state)
{
	struct fx f;
	const struct ynode *r, *p, *cmds;

	(void)state;
	load_ok(&f, "version: 0.2\nphases:\n  build:\n    commands:\n"
		    "      - make\n      - make test\n");
	r = f.doc.root;
	assert_int_equal(r->line, 1);
	assert_int_equal(r->col, 1);
	assert_int_equal(r->keys[1]->line, 2);
	assert_int_equal(r->keys[1]->col, 1);
	p = get(r, "phases");
	assert_int_equal(p->keys[0]->line, 3);
	assert_int_equal(p->keys[0]->col, 3);
	cmds = get(get(p, "build"), "commands");
	assert_int_equal(cmds->type, YNODE_SEQ);
	assert_int_equal(cmds->nr, 2);
	assert_int_equal(cmds->items[1]->line, 6);
	assert_int_equal(cmds->items[1]->col, 9);
	assert_string_equal(cmds->items[1]->value, "make test");
	ydoc_release(&f.doc);
}

static void test_yaml__block_and_folded_scalars(void **state)
{
	struct fx f;
	const struct ynode *r;

	(void)state;
	load_ok(&f, "lit: |\n  set -e\n  make\nfold: >-\n  a\n  b\n"
		    "plain: case x in\n   y) z ;;\n  esac\n");
	r = f.doc.root;
	assert_string_equal(get(r, "lit")->value, "set -e\nmake\n");
	assert_false(get(r, "lit")->plain);
	assert_string_equal(get(r, "fold")->value, "a b");
	assert_string_equal(get(r, "plain")->value, "case x in y) z ;; esac");
	ydoc_release(&f.doc);
}

static void test_yaml__aliases_share_nodes(void **state)
{
	struct fx f;
	const struct ynode *r, *a, *b;

	(void)state;
	load_ok(&f, "a: &x [1, 2]\nb: *x\nc: &s str\nd: *s\n");
	r = f.doc.root;
	a = get(r, "a");
	b = get(r, "b");
	assert_ptr_equal(a, b);
	assert_int_equal(b->nr, 2);
	assert_ptr_equal(get(r, "c"), get(r, "d"));
	ydoc_release(&f.doc);
}

static void test_yaml__anchor_redefined_shadows(void **state)
{
	struct fx f;

	(void)state;
	load_ok(&f, "a: &x one\nb: &x two\nc: *x\n");
	assert_string_equal(get(f.doc.root, "c")->value, "two");
	ydoc_release(&f.doc);
}

static void test_yaml__merge_keys(void **state)
{
	struct fx f;
	const struct ynode *r, *m;

	(void)state;
	load_ok(&f, "base: &b {x: 1, y: 2}\nother: &o {y: 20, z: 30}\n"
		    "m:\n  y: explicit\n  <<: [*b, *o]\n  w: 4\n"
		    "n:\n  <<: *b\n  x: late\n");
	r = f.doc.root;
	m = get(r, "m");
	assert_int_equal(m->nr, 4);
	assert_string_equal(get(m, "y")->value, "explicit");
	assert_string_equal(get(m, "x")->value, "1");
	assert_string_equal(get(m, "z")->value, "30");
	assert_string_equal(get(m, "w")->value, "4");
	assert_null(ynode_map_get(m, "<<"));
	/* an explicit key after the merge still wins */
	m = get(r, "n");
	assert_int_equal(m->nr, 2);
	assert_string_equal(get(m, "x")->value, "late");
	assert_string_equal(get(m, "y")->value, "2");
	ydoc_release(&f.doc);
}

static void test_yaml__quoted_merge_key_is_a_key(void **state)
{
	struct fx f;

	(void)state;
	load_ok(&f, "'<<': value\n");
	assert_string_equal(get(f.doc.root, "<<")->value, "value");
	ydoc_release(&f.doc);
}

static void test_yaml__bad_merge_value(void **state)
{
	(void)state;
	load_err("a: &s str\nb:\n  <<: *s\n",
		 "t.yml:1:4: merge key '<<' needs a mapping or a sequence of "
		 "mappings");
}

static void test_yaml__billion_laughs_refused_quickly(void **state)
{
	struct buf b = BUF_INIT;
	struct fx f;
	clock_t t0;
	double secs;

	(void)state;
	buf_addstr(&b, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, "
		       "lol, lol]\n");
	for (int i = 1; i < 20; i++) {
		buf_addf(&b, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			buf_addf(&b, "%s*a%d", j ? ", " : "", i - 1);
		buf_addstr(&b, "]\n");
	}
	t0 = clock();
	memset(&f, 0, sizeof(f));
	assert_int_equal(ydoc_load("t.yml", b.ptr, b.len, &f.doc, &f.e), -1);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_true(secs < 1.0);
	assert_int_equal(f.e.code, ERR_SPEC);
	/* a5 is the first node to expand to over a million */
	assert_non_null(strstr(f.e.msg, "t.yml:6:"));
	assert_non_null(strstr(f.e.msg, "document expands to too many nodes "
					"(aliases)"));
	buf_release(&b);
}

static void test_yaml__many_aliases_under_limit_ok(void **state)
{
	struct fx f;

	(void)state;
	load_ok(&f, "a: &a [x, y, z]\nb: [*a, *a, *a, *a]\nc: [*a, *a]\n");
	assert_int_equal(get(f.doc.root, "b")->nr, 4);
	ydoc_release(&f.doc);
}

static void test_yaml__duplicate_key(void **state)
{
	(void)state;
	load_err("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n",
		 "t.yml:5:3: duplicate key 'x'");
	load_err("{a: 1, a: 2}", "t.yml:1:8: duplicate key 'a'");
}

static void test_yaml__duplicate_key_last_wins_when_asked(void **state)
{
	static const char text[] = "base: &b {x: 1, y: 2}\n"
				   "m:\n"
				   "  a: first\n"
				   "  <<: *b\n"
				   "  c: 3\n"
				   "  a: second\n"
				   "  x: mine\n"
				   "  a: third\n";
	struct strvec w = STRVEC_INIT;
	struct ydoc_opts yo = { .dup_keys_last = true, .warnings = &w };
	struct ydoc doc = YDOC_INIT;
	struct sw_err e = SW_ERR_INIT;
	const struct ynode *m;

	(void)state;
	assert_int_equal(
		ydoc_load_opts("t.yml", text, strlen(text), &yo, &doc, &e), 0);
	m = ynode_map_get(doc.root, "m");
	/* Ruby's Hash: a, (merged y), c, x in first-seen order, last value */
	assert_int_equal(m->nr, 4);
	assert_string_equal(m->keys[0]->value, "a");
	assert_string_equal(m->items[0]->value, "third");
	assert_int_equal(m->keys[0]->line, 8);
	assert_string_equal(m->keys[1]->value, "y");
	assert_string_equal(m->keys[2]->value, "c");
	assert_string_equal(m->keys[3]->value, "x");
	assert_string_equal(m->items[3]->value, "mine");
	assert_int_equal(w.nr, 2);
	assert_string_equal(w.v[0], "t.yml:6:3: duplicate key 'a': replaces "
				    "the value at 3:3 (the last one wins, as "
				    "the agent reads it)");
	assert_string_equal(w.v[1], "t.yml:8:3: duplicate key 'a': replaces "
				    "the value at 6:3 (the last one wins, as "
				    "the agent reads it)");
	ydoc_release(&doc);
	strvec_release(&w);
	/* the default is still an error */
	load_err("a: 1\na: 2\n", "t.yml:2:1: duplicate key 'a'");
}

static void test_yaml__undefined_and_recursive_alias(void **state)
{
	(void)state;
	load_err("a: 1\nb: *nope\n", "t.yml:2:4: undefined alias 'nope'");
	load_err("a: &r\n  b: *r\n", "t.yml:2:6: recursive alias 'r'");
}

static void test_yaml__depth_limit(void **state)
{
	struct buf b = BUF_INIT;
	struct fx f;

	(void)state;
	for (int i = 0; i < YAML_MAX_DEPTH; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < YAML_MAX_DEPTH; i++)
		buf_addch(&b, ']');
	memset(&f, 0, sizeof(f));
	assert_int_equal(ydoc_load("t.yml", b.ptr, b.len, &f.doc, &f.e), 0);
	ydoc_release(&f.doc);
	buf_clear(&b);
	for (int i = 0; i <= YAML_MAX_DEPTH; i++)
		buf_addch(&b, '[');
	memset(&f, 0, sizeof(f));
	assert_int_equal(ydoc_load("t.yml", b.ptr, b.len, &f.doc, &f.e), -1);
	assert_string_equal(f.e.msg, "t.yml:1:257: nesting too deep (more "
				     "than 256 levels)");
	buf_release(&b);
}

static void test_yaml__empty_documents(void **state)
{
	static const char *const texts[] = { "", "# only a comment\n", "---\n",
					     "---\n...\n", "\n\n" };
	struct fx f;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		load_ok(&f, texts[i]);
		assert_null(f.doc.root);
		assert_string_equal(f.doc.file, "t.yml");
		ydoc_release(&f.doc);
	}
}

static void test_yaml__only_first_document(void **state)
{
	struct fx f;

	(void)state;
	load_ok(&f, "a: 1\n---\nb: [unclosed\n");
	assert_string_equal(get(f.doc.root, "a")->value, "1");
	assert_null(ynode_map_get(f.doc.root, "b"));
	ydoc_release(&f.doc);
}

static void test_yaml__non_scalar_key(void **state)
{
	(void)state;
	load_err("? [a, b]\n: 1\n", "t.yml:1:3: mapping keys must be scalars");
	load_err("a: &m {x: 1}\n*m : 2\n",
		 "t.yml:2:1: mapping keys must be scalars");
}

static void test_yaml__nul_in_scalar_keeps_len(void **state)
{
	struct fx f;
	const struct ynode *v;

	(void)state;
	load_ok(&f, "a: \"x\\0y\"\n");
	v = get(f.doc.root, "a");
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->value, "x\0y", 4);
	ydoc_release(&f.doc);
}

static void test_yaml__tags_kept(void **state)
{
	struct fx f;
	const struct ynode *r;

	(void)state;
	load_ok(&f, "a: !!str 9\nb: !custom x\nc: 9\nd: !!null ''\n");
	r = f.doc.root;
	assert_string_equal(get(r, "a")->tag, "tag:yaml.org,2002:str");
	assert_string_equal(get(r, "a")->value, "9");
	assert_string_equal(get(r, "b")->tag, "!custom");
	assert_null(get(r, "c")->tag);
	assert_true(ynode_is_null(get(r, "d")));
	ydoc_release(&f.doc);
}

static void test_yaml__syntax_errors_have_positions(void **state)
{
	(void)state;
	load_err("a: [1, 2\n",
		 "t.yml:2:1: did not find expected ',' or ']' (while parsing "
		 "a flow sequence started at 1:4)");
	load_err("a:\n\tb: 1\n",
		 "t.yml:2:1: found character that cannot start any token "
		 "(while scanning for the next token started at 2:1)");
	load_err("a: b: c\n",
		 "t.yml:1:5: mapping values are not allowed in this context");
	load_err("a: 1\nb: \xff\n",
		 "t.yml:2:4: invalid leading UTF-8 octet (byte 0xff)");
}

static void test_yaml__nul_byte_in_input(void **state)
{
	struct fx f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(ydoc_load("t.yml", "a: b\0c\n", 7, &f.doc, &f.e), -1);
	assert_string_equal(f.e.msg, "t.yml:1:5: control characters are not "
				     "allowed (byte 0x00)");
}

static void test_yaml__bool(void **state)
{
	static const char *const yes[] = { "y",	  "Y",	  "yes",  "Yes",
					   "YES", "true", "True", "TRUE",
					   "on",  "On",	  "ON",	  "'yes'" };
	static const char *const no[] = { "n",	 "N",	  "no",	   "No",
					  "NO",	 "false", "False", "FALSE",
					  "off", "Off",	  "OFF",   "\"no\"" };
	static const char *const neither[] = { "maybe", "1",	  "0", "yEs",
					       "[yes]", "{a: b}", "''" };
	char text[64];
	struct fx f;
	bool b;

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "k: %s\n", yes[i]);
		load_ok(&f, text);
		b = false;
		assert_int_equal(ynode_bool(get(f.doc.root, "k"), &b), 0);
		assert_true(b);
		ydoc_release(&f.doc);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "k: %s\n", no[i]);
		load_ok(&f, text);
		b = true;
		assert_int_equal(ynode_bool(get(f.doc.root, "k"), &b), 0);
		assert_false(b);
		ydoc_release(&f.doc);
	}
	for (size_t i = 0; i < sizeof(neither) / sizeof(neither[0]); i++) {
		snprintf(text, sizeof(text), "k: %s\n", neither[i]);
		load_ok(&f, text);
		assert_int_equal(ynode_bool(get(f.doc.root, "k"), &b), -1);
		ydoc_release(&f.doc);
	}
	assert_int_equal(ynode_bool(NULL, &b), -1);
}

static void test_yaml__kind_and_null(void **state)
{
	struct fx f;
	const struct ynode *r;

	(void)state;
	load_ok(&f, "s: x\nq: [1]\nm: {a: 1}\nn: null\nN: NULL\nt: 'null'\n");
	r = f.doc.root;
	assert_string_equal(ynode_kind(r), "mapping");
	assert_string_equal(ynode_kind(get(r, "s")), "scalar");
	assert_string_equal(ynode_kind(get(r, "q")), "sequence");
	assert_true(ynode_is_null(NULL));
	assert_true(ynode_is_null(get(r, "n")));
	assert_true(ynode_is_null(get(r, "N")));
	assert_false(ynode_is_null(get(r, "t")));
	assert_false(ynode_is_null(get(r, "m")));
	assert_false(ynode_is_null(get(r, "s")));
	ydoc_release(&f.doc);
}

static void test_yaml__ydoc_err_format(void **state)
{
	struct fx f;

	(void)state;
	load_ok(&f, "a:\n  b: [1, 2]\n");
	assert_int_equal(ydoc_err(&f.doc, get(get(f.doc.root, "a"), "b"), &f.e,
				  "'%s' must be a %s", "a.b", "mapping"),
			 -1);
	assert_int_equal(f.e.code, ERR_SPEC);
	assert_string_equal(f.e.msg, "t.yml:2:6: 'a.b' must be a mapping");
	/* the first error wins */
	ydoc_err(&f.doc, f.doc.root, &f.e, "second");
	assert_string_equal(f.e.msg, "t.yml:2:6: 'a.b' must be a mapping");
	ydoc_release(&f.doc);
}

static void test_yaml__load_file(void **state)
{
	char dir[] = "/tmp/test_yaml.XXXXXX", path[64];
	struct ydoc doc = YDOC_INIT;
	struct sw_err e = SW_ERR_INIT;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/b.yml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("key: [a, b]\nbad: *x\n", fp);
	fclose(fp);
	assert_int_equal(ydoc_load_file(path, &doc, &e), -1);
	assert_non_null(strstr(e.msg, "/b.yml:2:6: undefined alias 'x'"));
	assert_int_equal(strncmp(e.msg, path, strlen(path)), 0);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("key: [a, b]", fp);
	fclose(fp);
	err_clear(&e);
	assert_int_equal(ydoc_load_file(path, &doc, &e), 0);
	assert_int_equal(get(doc.root, "key")->nr, 2);
	assert_string_equal(doc.file, path);
	ydoc_release(&doc);
	unlink(path);

	err_clear(&e);
	assert_int_equal(ydoc_load_file(path, &doc, &e), -1);
	assert_int_equal(e.code, ERR_SPEC);
	assert_non_null(strstr(e.msg, "cannot open"));
	err_clear(&e);
	assert_int_equal(ydoc_load_file(dir, &doc, &e), -1);
	assert_non_null(strstr(e.msg, "is a directory"));
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml__scalars_kept_as_written),
		cmocka_unit_test(test_yaml__positions_are_one_based),
		cmocka_unit_test(test_yaml__block_and_folded_scalars),
		cmocka_unit_test(test_yaml__aliases_share_nodes),
		cmocka_unit_test(test_yaml__anchor_redefined_shadows),
		cmocka_unit_test(test_yaml__merge_keys),
		cmocka_unit_test(test_yaml__quoted_merge_key_is_a_key),
		cmocka_unit_test(test_yaml__bad_merge_value),
		cmocka_unit_test(test_yaml__billion_laughs_refused_quickly),
		cmocka_unit_test(test_yaml__many_aliases_under_limit_ok),
		cmocka_unit_test(test_yaml__duplicate_key),
		cmocka_unit_test(test_yaml__duplicate_key_last_wins_when_asked),
		cmocka_unit_test(test_yaml__undefined_and_recursive_alias),
		cmocka_unit_test(test_yaml__depth_limit),
		cmocka_unit_test(test_yaml__empty_documents),
		cmocka_unit_test(test_yaml__only_first_document),
		cmocka_unit_test(test_yaml__non_scalar_key),
		cmocka_unit_test(test_yaml__nul_in_scalar_keeps_len),
		cmocka_unit_test(test_yaml__tags_kept),
		cmocka_unit_test(test_yaml__syntax_errors_have_positions),
		cmocka_unit_test(test_yaml__nul_byte_in_input),
		cmocka_unit_test(test_yaml__bool),
		cmocka_unit_test(test_yaml__kind_and_null),
		cmocka_unit_test(test_yaml__ydoc_err_format),
		cmocka_unit_test(test_yaml__load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
