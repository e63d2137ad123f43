#include "suggest.h"

#include <string.h>

#include "banned.h"

enum { SUGGEST_MAX = 64 };

static char fold(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	return c == '_' ? '-' : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

size_t suggest_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	/* three rows of the table: i-2, i-1, i */
	size_t rows[3][SUGGEST_MAX + 1];

	if (alen > SUGGEST_MAX || blen > SUGGEST_MAX)
		return SUGGEST_MAX + 1;
	for (size_t j = 0; j <= blen; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t *cur = rows[i % 3], *prev = rows[(i + 2) % 3];
		size_t *prev2 = rows[(i + 1) % 3];

		cur[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t cost = fold(a[i - 1]) != fold(b[j - 1]);

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1,
				      prev[j - 1] + cost);
			if (i > 1 && j > 1 &&
			    fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) &&
			    prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
	}
	return rows[alen % 3][blen];
}

const char *suggest_closest(const char *word, size_t len,
			    const char *const *cands, size_t nr)
{
	size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	for (size_t i = 0; i < nr; i++) {
		size_t cl, d;

		if (!cands[i])
			continue;
		cl = strlen(cands[i]);
		if (cl == len && !memcmp(cands[i], word, len))
			return NULL;
		d = suggest_distance(word, len, cands[i], cl);
		if (d <= limit && d < (len < cl ? len : cl) && d < best_d) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}
