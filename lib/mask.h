/*
 * mask: replace secret values by "***" in a stream of build output, even
 * when a secret arrives split across two reads of a pipe.
 *
 *   struct mask m = MASK_INIT;
 *   mask_add(&m, password);              -- copied
 *   while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
 *           mask_feed(&m, tmp, n, &out);  -- appends what is safe now
 *           write_out(&out); buf_clear(&out);
 *   }
 *   mask_flush(&m, &out);                 -- end of stream: the held tail
 *   char *s = mask_string(&m, report);    -- one-shot, caller frees
 *   mask_release(&m);
 *
 * Matching is leftmost, then longest: at a position where several secrets
 * match, the longest one is replaced. Replaced text is not rescanned.
 *
 * mask_feed() holds back only the shortest tail of the input that is
 * still the start of a secret, so the held bytes are always fewer than
 * the longest secret. With no secrets registered, feeding is a copy.
 *
 * Registration rules (mask_add):
 *  - an empty string or NULL is ignored; a string already registered is
 *    ignored; any non-empty string is registered, even one byte long
 *    (the caller decides what is secret).
 *  - a secret that ends in "\n" (or "\r\n") is also registered without
 *    it, as values read from files or command output often do.
 *  - a multi-line secret (one holding '\n' before its end) is registered
 *    whole and, in addition, each of its lines (without a trailing '\r')
 *    that is at least MASK_MIN_LINE bytes long. Programs often print one line of a
 *    key or a certificate, and tools that rewrite line endings would
 *    defeat a whole-value match. Shorter lines ("}", "") are left alone
 *    because masking them would garble unrelated output.
 *
 * One struct mask carries one stream's held tail. To mask several
 * streams concurrently with one set of secrets, give each stream a
 * struct mask_stream. Adding secrets while streams hold data is allowed.
 * Not thread-safe.
 */
#ifndef SW_MASK_H
#define SW_MASK_H

#include <stddef.h>

#include "buf.h"

#define MASK_REPLACEMENT "***"
#define MASK_MIN_LINE 4

struct mask_secret {
	char *s; /* owned, NUL-terminated */
	size_t len;
};

struct mask {
	/* sorted by first byte, then by length, longest first */
	struct mask_secret *secrets;
	size_t nr, alloc;
	size_t maxlen;
	/* secrets[by_first[c] .. by_first[c] + nr_first[c]) start with c */
	size_t by_first[256];
	size_t nr_first[256];
	/* the distinct first bytes, in no order */
	unsigned char firsts[256];
	size_t nr_firsts;
	struct buf hold; /* the held tail of the stream mask_feed() masks */
};

#define MASK_INIT                                                              \
	{                                                                      \
		0                                                              \
	}

/* A stream over a struct mask that stays owned by the caller. */
struct mask_stream {
	const struct mask *m;
	struct buf hold;
};

#define MASK_STREAM_INIT(m)                                                    \
	{                                                                      \
		(m), BUF_INIT                                                  \
	}

void mask_init(struct mask *m);

/* Register a secret (copied); see the rules above. */
void mask_add(struct mask *m, const char *secret);

/*
 * Append to `out` the masked bytes of data[0..len) that are safe to emit
 * now; the rest is held in m until the next feed or mask_flush().
 */
void mask_feed(struct mask *m, const char *data, size_t len, struct buf *out);

/* End of stream: append the held tail, masked, and forget it. */
void mask_flush(struct mask *m, struct buf *out);

/* The same for a struct mask_stream. */
void mask_stream_feed(struct mask_stream *st, const char *data, size_t len,
		      struct buf *out);
void mask_stream_flush(struct mask_stream *st, struct buf *out);
void mask_stream_release(struct mask_stream *st);

/* The masked copy of a NUL-terminated string; the caller frees it. */
char *mask_string(const struct mask *m, const char *s);

/* Append data[0..len) to out, masked as a whole (no bytes held). */
void mask_buf(const struct mask *m, const char *data, size_t len,
	      struct buf *out);

/* Free the secrets and the held tail; m is MASK_INIT again. */
void mask_release(struct mask *m);

#endif
