/*
 * lazylib: shared libraries loaded the first time they are called.
 *
 * Every slipway command used to map 53 shared libraries at start-up, 33
 * of them for libcurl (notification URLs) and libxml2 (test reports),
 * which most commands never call: about half of the start-up cost of a
 * one-command build. lazylib.c defines the functions of theirs that
 * slipway calls, under their own names; the first call dlopen()s the
 * library (by its soname) and each function forwards to the real one
 * (found with dlsym). Linked with --as-needed, the program then carries
 * no DT_NEEDED entry for either library; a call to a function lazylib
 * does not define keeps the library linked as before (correct, only not
 * lazy): add it to lazylib.c.
 *
 * When a library cannot be loaded, one line on stderr says so and the
 * functions fail as the library would fail to start: NULL handles,
 * CURLE_FAILED_INIT, no document.
 */
#ifndef SW_LAZYLIB_H
#define SW_LAZYLIB_H

/* The sonames loaded. */
#define LAZYLIB_CURL "libcurl.so.4"
#define LAZYLIB_XML2 "libxml2.so.2"

/*
 * libgit2, libarchive, libpq, libmicrohttpd and libcrypto (LAZY_LIBS in
 * the Makefile) are loaded the same way, by stubs generated at build time
 * instead of written by hand: they export about 230 functions slipway
 * calls, and with them linked every command mapped 49 shared objects
 * (libpq alone brings Kerberos, LDAP, SASL and GnuTLS; libarchive
 * libxml2 and ICU) where a build of a directory needs none of them.
 *
 * lib/lazystubs.sh lists, with nm, the functions of each library that the
 * objects call and writes build/lazystubs.c: a table of their names and
 * one LAZYLIB_STUB per function, a few instructions under the function's
 * own name that jump to the address in the table, or, the first time,
 * save the argument registers, call lazylib_resolve() (dlopen of the
 * library by its soname, dlsym of the name) and jump to the function
 * found. The arguments are never read, so variadic functions
 * (git_libgit2_opts, archive_set_error, MHD_start_daemon) need nothing
 * special. Stubs exist for x86-64; elsewhere the file has none and the
 * libraries are linked as before.
 *
 * A stub has no error to return (it does not know the function's type),
 * so when the library or the function cannot be found it prints one line,
 * "slipway: cannot load <soname>: <reason>", and ends the process with
 * status 111. Code about to use a library calls lazylib_need() first,
 * where a missing library is an ordinary error.
 */

#include <pthread.h>

#include "err.h"

/* A library loaded by stubs (one entry per library, then a NULL name). */
struct lazylib_lib {
	const char *name; /* as in -l<name>: "git2" */
	const char *soname; /* "libgit2.so.1.5" */
	pthread_mutex_t lock; /* held while loading */
	int tried; /* dlopen was tried */
	void *handle; /* its handle, or NULL */
	char *why; /* dlerror() of a failed load */
};

/* A function forwarded by a stub; the stub reads fn at offset 0. */
struct lazylib_sym {
	void *fn; /* the real function once found */
	const char *name;
	struct lazylib_lib *lib;
};

/*
 * Load the library -l<name> now if it is loaded by stubs and is not yet:
 * 0 when it is loaded (or linked as usual), -1 with ERR_SYSTEM and
 * "cannot load <soname>: <reason>" in *e when it cannot be.
 */
int lazylib_need(const char *name, struct sw_err *e);

/*
 * The first call through a stub: the function sym stands for (loading
 * its library), or the process ends with one line and status 111.
 */
void *lazylib_resolve(struct lazylib_sym *sym);

#if defined(__x86_64__)
/*
 * The stub of function fn, entry i of lazylib_syms[] (24 bytes each).
 * %r11 is a scratch register in the SysV ABI, never an argument.
 */
#define LAZYLIB_STUB(fn, i)                                                    \
	__asm__(".pushsection .text\n"                                         \
		".globl " #fn "\n"                                             \
		".type " #fn ", @function\n" #fn ":\n"                         \
		"\tmovq lazylib_syms+24*" #i "(%rip), %r11\n"                  \
		"\ttestq %r11, %r11\n"                                         \
		"\tjz 1f\n"                                                    \
		"\tjmp *%r11\n"                                                \
		"1:\tleaq lazylib_syms+24*" #i "(%rip), %r11\n"                \
		"\tjmp lazylib_slow\n"                                         \
		".size " #fn ", .-" #fn "\n"                                   \
		".popsection\n");
#endif

#endif
