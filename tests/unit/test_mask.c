#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "buf.h"
#include "mask.h"
#include "xalloc.h"

/* Leftmost-longest masking done the slow, obvious way. */
static char *naive_mask(const char *const *secrets, size_t nr, const char *s)
{
	struct buf b = BUF_INIT;
	size_t n = strlen(s), i = 0, k;

	while (i < n) {
		size_t best = 0;

		for (k = 0; k < nr; k++) {
			size_t l = strlen(secrets[k]);

			if (l && l <= n - i && !memcmp(s + i, secrets[k], l) &&
			    l > best)
				best = l;
		}
		if (best) {
			buf_addstr(&b, "***");
			i += best;
		} else {
			buf_addch(&b, s[i]);
			i++;
		}
	}
	return buf_detach(&b);
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Feed s in pieces cut at the given offsets, then flush. */
static char *feed_split(struct mask *m, const char *s, const size_t *cuts,
			size_t nr_cuts)
{
	struct buf out = BUF_INIT;
	size_t n = strlen(s), prev = 0, k;

	for (k = 0; k < nr_cuts; k++) {
		mask_feed(m, s + prev, cuts[k] - prev, &out);
		/* never more held back than the longest secret */
		assert_true(m->hold.len < m->maxlen || !m->maxlen);
		prev = cuts[k];
	}
	mask_feed(m, s + prev, n - prev, &out);
	mask_flush(m, &out);
	assert_int_equal(m->hold.len, 0);
	return buf_detach(&out);
}

static void test_mask__no_secrets_is_a_copy(void **state)
{
	struct mask m = MASK_INIT;
	struct buf out = BUF_INIT;
	char *s;

	(void)state;
	mask_feed(&m, "hello ", 6, &out);
	assert_int_equal(m.hold.len, 0);
	mask_feed(&m, "world", 5, &out);
	mask_flush(&m, &out);
	assert_string_equal(buf_cstr(&out), "hello world");
	s = mask_string(&m, "abc");
	assert_string_equal(s, "abc");
	free(s);
	buf_release(&out);
	mask_release(&m);
}

static void test_mask__string(void **state)
{
	struct mask m = MASK_INIT;
	char *s;

	(void)state;
	mask_add(&m, "s3cr3t");
	mask_add(&m, "");
	mask_add(&m, NULL);
	mask_add(&m, "s3cr3t");
	assert_int_equal(m.nr, 1);
	s = mask_string(&m, "pw=s3cr3t, again s3cr3ts3cr3t, s3cr3");
	assert_string_equal(s, "pw=***, again ******, s3cr3");
	free(s);
	s = mask_string(&m, NULL);
	assert_string_equal(s, "");
	free(s);
	mask_release(&m);
	assert_int_equal(m.nr, 0);
}

static void test_mask__longest_match_wins(void **state)
{
	struct mask m = MASK_INIT;
	char *s;

	(void)state;
	mask_add(&m, "abc");
	mask_add(&m, "abcdef");
	mask_add(&m, "cde");
	s = mask_string(&m, "xabcdefx abcdx abxcdex");
	assert_string_equal(s, "x***x ***dx abx***x");
	free(s);
	mask_release(&m);
}

static void test_mask__one_byte_secret(void **state)
{
	struct mask m = MASK_INIT;
	char *s;

	(void)state;
	mask_add(&m, "x");
	s = mask_string(&m, "axbxx");
	assert_string_equal(s, "a***b******");
	free(s);
	mask_release(&m);
}

static void test_mask__multiline_secret(void **state)
{
	struct mask m = MASK_INIT;
	char *s;

	(void)state;
	mask_add(&m, "-----BEGIN KEY-----\r\nAAAABBBB\n}\nCCCC\n");
	s = mask_string(&m, "key: AAAABBBB; } stays; CCCC.");
	assert_string_equal(s, "key: ***; } stays; ***.");
	free(s);
	s = mask_string(&m, "-----BEGIN KEY-----\r\nAAAABBBB\n}\nCCCC\n!");
	assert_string_equal(s, "***!");
	free(s);
	mask_release(&m);

	/* a value with a trailing newline is masked without it too */
	mask_add(&m, "ab\n");
	s = mask_string(&m, "ab ab\n");
	assert_string_equal(s, "*** ***");
	free(s);
	mask_release(&m);
}

/* Every split of a secret across two feeds. */
static void test_mask__split_at_every_boundary(void **state)
{
	static const char *secrets[] = { "hunter2-very-secret", "hunter",
					 "xyz" };
	const char *text = "pre hunter2-very-secret mid hunte hunter xyz post";
	struct mask m = MASK_INIT;
	char *want, *got;
	size_t n = strlen(text), cut, k;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(secrets); k++)
		mask_add(&m, secrets[k]);
	want = naive_mask(secrets, ARRAY_SIZE(secrets), text);
	assert_string_equal(want, "pre *** mid hunte *** *** post");
	for (cut = 0; cut <= n; cut++) {
		got = feed_split(&m, text, &cut, 1);
		assert_string_equal(got, want);
		free(got);
	}
	/* and byte by byte */
	{
		size_t cuts[128];

		for (k = 0; k < n; k++)
			cuts[k] = k + 1;
		got = feed_split(&m, text, cuts, n - 1);
		assert_string_equal(got, want);
		free(got);
	}
	free(want);
	mask_release(&m);
}

/* Held back only as long as a secret could still start there. */
static void test_mask__holds_back_the_shortest_tail(void **state)
{
	struct mask m = MASK_INIT;
	struct buf out = BUF_INIT;

	(void)state;
	mask_add(&m, "secret");
	mask_feed(&m, "a sec", 5, &out);
	assert_string_equal(buf_cstr(&out), "a ");
	assert_int_equal(m.hold.len, 3);
	mask_feed(&m, "ond", 3, &out);
	assert_string_equal(buf_cstr(&out), "a second");
	assert_int_equal(m.hold.len, 0);
	mask_feed(&m, " se", 3, &out);
	mask_feed(&m, "cr", 2, &out);
	mask_feed(&m, "et!", 3, &out);
	assert_string_equal(buf_cstr(&out), "a second ***!");
	mask_feed(&m, "s", 1, &out);
	mask_flush(&m, &out);
	assert_string_equal(buf_cstr(&out), "a second ***!s");
	buf_release(&out);
	mask_release(&m);
}

/* Many distinct first bytes take the table path. */
static void test_mask__many_secrets(void **state)
{
	static const char *secrets[] = { "alpha", "bravo", "charlie", "delta",
					 "echo",  "fox",   "golf",    "al" };
	const char *text = "alphabravo charli deltaecho foxtrot golfal a";
	struct mask m = MASK_INIT;
	char *want, *got;
	size_t n = strlen(text), cut, k;

	(void)state;
	for (k = 0; k < ARRAY_SIZE(secrets); k++)
		mask_add(&m, secrets[k]);
	assert_true(m.nr_firsts > 4);
	want = naive_mask(secrets, ARRAY_SIZE(secrets), text);
	assert_string_equal(want, "****** charli ****** ***trot ****** a");
	for (cut = 0; cut <= n; cut++) {
		got = feed_split(&m, text, &cut, 1);
		assert_string_equal(got, want);
		free(got);
	}
	free(want);
	mask_release(&m);
}

/* Random texts over a small alphabet against the naive version. */
static void test_mask__random_against_naive(void **state)
{
	static const char *secrets[] = { "abab", "ba", "abba", "bbbbbb", "c" };
	struct mask m = MASK_INIT;
	unsigned seed = 12345;
	char text[64];
	size_t round, k, cuts[4];

	(void)state;
	for (round = 0; round < 3000; round++) {
		size_t nsec = 1 + round % ARRAY_SIZE(secrets);
		size_t n = (size_t)(rand_r(&seed) % 60);
		char *want, *got;

		mask_release(&m);
		for (k = 0; k < nsec; k++)
			mask_add(&m, secrets[k]);
		for (k = 0; k < n; k++)
			text[k] = "abc"[rand_r(&seed) % (round % 7 ? 2 : 3)];
		text[n] = '\0';
		for (k = 0; k < ARRAY_SIZE(cuts); k++)
			cuts[k] = n ? (size_t)rand_r(&seed) % (n + 1) : 0;
		qsort(cuts, ARRAY_SIZE(cuts), sizeof(cuts[0]), size_cmp);
		want = naive_mask(secrets, nsec, text);
		got = feed_split(&m, text, cuts, ARRAY_SIZE(cuts));
		assert_string_equal(got, want);
		free(got);
		got = mask_string(&m, text);
		assert_string_equal(got, want);
		free(got);
		free(want);
	}
	mask_release(&m);
}

static void test_mask__streams_are_independent(void **state)
{
	struct mask m = MASK_INIT;
	struct mask_stream a = MASK_STREAM_INIT(&m);
	struct mask_stream b = MASK_STREAM_INIT(&m);
	struct buf oa = BUF_INIT, ob = BUF_INIT;

	(void)state;
	mask_add(&m, "token");
	mask_stream_feed(&a, "to", 2, &oa);
	mask_stream_feed(&b, "tok", 3, &ob);
	mask_stream_feed(&a, "ken", 3, &oa);
	mask_stream_feed(&b, "yo", 2, &ob);
	mask_stream_flush(&a, &oa);
	mask_stream_flush(&b, &ob);
	assert_string_equal(buf_cstr(&oa), "***");
	assert_string_equal(buf_cstr(&ob), "tokyo");
	mask_stream_release(&a);
	mask_stream_release(&b);
	buf_release(&oa);
	buf_release(&ob);
	mask_release(&m);
}

/*
 * A rough throughput check: 64 MiB through with a few secrets, in 64 KiB
 * reads. Not a timed assertion; it prints the rate and checks the output.
 */
static void test_mask__throughput(void **state)
{
	const size_t chunk = 64 * 1024, total = 64 * 1024 * 1024;
	struct mask m = MASK_INIT;
	struct buf out = BUF_INIT;
	char *data = xmalloc(chunk);
	size_t i, fed = 0, outlen = 0, masked = 0;
	struct timespec t0, t1;
	double secs;

	(void)state;
	mask_add(&m, "ghp_0123456789abcdef");
	mask_add(&m, "AKIAEXAMPLEKEY");
	mask_add(&m, "s3cr3t-pass");
	/* log-like text, with one secret that straddles the chunk end */
	for (i = 0; i < chunk; i++)
		data[i] =
			"the quick brown fox jumps over the lazy dog\n"[i % 44];
	memcpy(data + chunk - 5, "s3cr3", 5);
	memcpy(data, "t-pass", 6);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (fed < total) {
		mask_feed(&m, data, chunk, &out);
		fed += chunk;
		outlen += out.len;
		buf_clear(&out);
	}
	mask_flush(&m, &out);
	outlen += out.len;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("mask: %zu MiB in %.3f s (%.0f MB/s)\n", total >> 20,
		      secs, secs > 0 ? (double)total / secs / 1e6 : 0.0);
	/* each straddling secret (11 bytes) became 3 bytes */
	masked = total / chunk - 1;
	assert_int_equal(outlen, total - masked * 8);
	buf_release(&out);
	free(data);
	mask_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask__no_secrets_is_a_copy),
		cmocka_unit_test(test_mask__string),
		cmocka_unit_test(test_mask__longest_match_wins),
		cmocka_unit_test(test_mask__one_byte_secret),
		cmocka_unit_test(test_mask__multiline_secret),
		cmocka_unit_test(test_mask__split_at_every_boundary),
		cmocka_unit_test(test_mask__holds_back_the_shortest_tail),
		cmocka_unit_test(test_mask__many_secrets),
		cmocka_unit_test(test_mask__random_against_naive),
		cmocka_unit_test(test_mask__streams_are_independent),
		cmocka_unit_test(test_mask__throughput),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
