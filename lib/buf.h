/*
 * buf: a growable byte buffer, always NUL-terminated once written to or
 * grown (buf_grow: room for extra more bytes and the NUL).
 *
 *   struct buf b = BUF_INIT;
 *   buf_addf(&b, "%s:%d", file, line);
 *   use(buf_cstr(&b));
 *   buf_release(&b);
 *
 * buf_detach() hands the string to the caller (who frees it) and leaves
 * the buffer empty. Allocation failure aborts (xalloc).
 */
#ifndef SW_BUF_H
#define SW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *ptr;
	size_t len;
	size_t alloc;
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, int c);
void buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* Append s quoted for a POSIX shell: 'it'\''s'. */
void buf_add_shquote(struct buf *b, const char *s);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_setlen(struct buf *b, size_t len);
/* Empty it for reuse, keeping the memory. */
void buf_clear(struct buf *b);
/* Free the memory; the buffer is BUF_INIT again. */
void buf_release(struct buf *b);
/* Caller owns the returned string; never NULL. */
char *buf_detach(struct buf *b);
/* "" for an empty buffer. */
const char *buf_cstr(const struct buf *b);

#endif
