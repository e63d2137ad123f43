/*
 * suggest: "did you mean" for a mistyped key, command or option.
 *
 *   static const char *const keys[] = { "commands", "finally" };
 *   const char *s = suggest_closest("comands", 7, keys, 2);
 *   if (s)
 *           warn("unknown key 'comands' (did you mean '%s'?)", s);
 *
 * Words are compared ignoring case and taking '_' for '-', so that
 * "Pre-Build" is close to "pre_build" (distance 0 there).
 */
#ifndef SW_SUGGEST_H
#define SW_SUGGEST_H

#include <stddef.h>

/*
 * The optimal string alignment distance between a (alen bytes) and b
 * (blen bytes): insertions, deletions, substitutions and swaps of two
 * neighbours count 1 each ("biuld" -> "build" is 1), case and '_'/'-'
 * differences 0. Words longer than 64 bytes are never close: 64 + 1.
 */
size_t suggest_distance(const char *a, size_t alen, const char *b, size_t blen);

/*
 * The candidate closest to word (len bytes) when it is close enough to
 * be a slip: at most 1 edit for words of up to 4 bytes, 2 for up to 8,
 * 3 beyond, and fewer edits than the shorter word has bytes. The first
 * of equally close candidates wins; NULL when none is close, and for a
 * candidate equal to word (nothing to suggest). The result is one of
 * cands (borrowed). NULL entries in cands are skipped.
 */
const char *suggest_closest(const char *word, size_t len,
			    const char *const *cands, size_t nr);

#endif
