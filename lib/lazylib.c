#define CURL_DISABLE_TYPECHECK 1

#include "lazylib.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

#include "banned.h"

struct lib {
	const char *soname;
	pthread_once_t once;
	void *handle;
};

static struct lib curl = { LAZYLIB_CURL, PTHREAD_ONCE_INIT, NULL };
static struct lib xml2 = { LAZYLIB_XML2, PTHREAD_ONCE_INIT, NULL };

static void load(struct lib *l)
{
	l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	if (!l->handle)
		fprintf(stderr, "slipway: cannot load %s: %s\n", l->soname,
			dlerror());
}

static void load_curl(void)
{
	load(&curl);
}

static void load_xml2(void)
{
	load(&xml2);
}

/* The real function name of l, or NULL. */
static void *sym(struct lib *l, const char *name)
{
	pthread_once(&l->once, l == &curl ? load_curl : load_xml2);
	return l->handle ? dlsym(l->handle, name) : NULL;
}

/* Declare fn as a pointer to the real function (static, found once). */
#define REAL(l, type, name)                                                    \
	static type name##_real;                                               \
	if (!name##_real)                                                      \
	*(void **)&name##_real = sym(&l, #name)

/* ---- libraries loaded by generated stubs ---- */

/* Defined in the generated stubs; absent (NULL) where there are none. */
extern struct lazylib_lib lazylib_libs[] __attribute__((weak));

_Static_assert(sizeof(struct lazylib_sym) == 24 &&
		       offsetof(struct lazylib_sym, fn) == 0,
	       "LAZYLIB_STUB reads lazylib_syms[i].fn at 24 * i");

/* Load l once; 0 when it is loaded. */
static int lib_load(struct lazylib_lib *l)
{
	pthread_mutex_lock(&l->lock);
	if (!l->tried) {
		l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
		if (!l->handle) {
			const char *why = dlerror();

			l->why = xstrdup(why ? why : "unknown error");
		}
		l->tried = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return l->handle ? 0 : -1;
}

int lazylib_need(const char *name, struct sw_err *e)
{
	if (!lazylib_libs)
		return 0;
	for (struct lazylib_lib *l = lazylib_libs; l->name; l++) {
		if (strcmp(l->name, name))
			continue;
		if (lib_load(l) < 0)
			return err_set(e, ERR_SYSTEM, "cannot load %s: %s",
				       l->soname, l->why);
		return 0;
	}
	return 0;
}

void *lazylib_resolve(struct lazylib_sym *sym)
{
	void *fn;

	if (lib_load(sym->lib) < 0) {
		fprintf(stderr, "slipway: cannot load %s: %s\n",
			sym->lib->soname, sym->lib->why);
		_exit(ERR_SYSTEM);
	}
	fn = dlsym(sym->lib->handle, sym->name);
	if (!fn) {
		fprintf(stderr, "slipway: cannot load %s: no function %s\n",
			sym->lib->soname, sym->name);
		_exit(ERR_SYSTEM);
	}
	__atomic_store_n(&sym->fn, fn, __ATOMIC_RELEASE);
	return fn;
}

#if defined(__x86_64__)
/*
 * The first call through a stub, with %r11 = its struct lazylib_sym:
 * keep the registers that may carry arguments (%rax holds the number of
 * vector registers of a variadic call, %r10 a static chain), find the
 * function and jump to it as if it had been called. The stack is
 * 16-byte aligned at the call, as the ABI wants.
 */
__asm__(".pushsection .text\n"
	".globl lazylib_slow\n"
	".hidden lazylib_slow\n"
	".type lazylib_slow, @function\n"
	"lazylib_slow:\n"
	"\tpushq %rbp\n"
	"\tmovq %rsp, %rbp\n"
	"\tpushq %rdi\n"
	"\tpushq %rsi\n"
	"\tpushq %rdx\n"
	"\tpushq %rcx\n"
	"\tpushq %r8\n"
	"\tpushq %r9\n"
	"\tpushq %rax\n"
	"\tpushq %r10\n"
	"\tsubq $128, %rsp\n"
	"\tmovdqa %xmm0, 0(%rsp)\n"
	"\tmovdqa %xmm1, 16(%rsp)\n"
	"\tmovdqa %xmm2, 32(%rsp)\n"
	"\tmovdqa %xmm3, 48(%rsp)\n"
	"\tmovdqa %xmm4, 64(%rsp)\n"
	"\tmovdqa %xmm5, 80(%rsp)\n"
	"\tmovdqa %xmm6, 96(%rsp)\n"
	"\tmovdqa %xmm7, 112(%rsp)\n"
	"\tmovq %r11, %rdi\n"
	"\tcall lazylib_resolve\n"
	"\tmovq %rax, %r11\n"
	"\tmovdqa 0(%rsp), %xmm0\n"
	"\tmovdqa 16(%rsp), %xmm1\n"
	"\tmovdqa 32(%rsp), %xmm2\n"
	"\tmovdqa 48(%rsp), %xmm3\n"
	"\tmovdqa 64(%rsp), %xmm4\n"
	"\tmovdqa 80(%rsp), %xmm5\n"
	"\tmovdqa 96(%rsp), %xmm6\n"
	"\tmovdqa 112(%rsp), %xmm7\n"
	"\taddq $128, %rsp\n"
	"\tpopq %r10\n"
	"\tpopq %rax\n"
	"\tpopq %r9\n"
	"\tpopq %r8\n"
	"\tpopq %rcx\n"
	"\tpopq %rdx\n"
	"\tpopq %rsi\n"
	"\tpopq %rdi\n"
	"\tpopq %rbp\n"
	"\tjmp *%r11\n"
	".size lazylib_slow, .-lazylib_slow\n"
	".popsection\n");
#endif

/* ---- libcurl ---- */

typedef CURLcode (*global_init_t)(long);
typedef CURL *(*easy_init_t)(void);
typedef void (*easy_void_t)(CURL *);
typedef CURLcode (*easy_perform_t)(CURL *);
typedef const char *(*easy_strerror_t)(CURLcode);
typedef struct curl_slist *(*slist_append_t)(struct curl_slist *, const char *);
typedef void (*slist_free_t)(struct curl_slist *);
typedef CURLcode (*setopt_t)(CURL *, CURLoption, ...);
typedef CURLcode (*getinfo_t)(CURL *, CURLINFO, ...);

CURLcode curl_global_init(long flags)
{
	REAL(curl, global_init_t, curl_global_init);
	return curl_global_init_real ? curl_global_init_real(flags)
				     : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	REAL(curl, easy_init_t, curl_easy_init);
	return curl_easy_init_real ? curl_easy_init_real() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	REAL(curl, easy_void_t, curl_easy_cleanup);
	if (curl_easy_cleanup_real)
		curl_easy_cleanup_real(h);
}

void curl_easy_reset(CURL *h)
{
	REAL(curl, easy_void_t, curl_easy_reset);
	if (curl_easy_reset_real)
		curl_easy_reset_real(h);
}

CURLcode curl_easy_perform(CURL *h)
{
	REAL(curl, easy_perform_t, curl_easy_perform);
	return curl_easy_perform_real ? curl_easy_perform_real(h)
				      : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode c)
{
	REAL(curl, easy_strerror_t, curl_easy_strerror);
	return curl_easy_strerror_real ? curl_easy_strerror_real(c)
				       : "libcurl cannot be loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	REAL(curl, slist_append_t, curl_slist_append);
	return curl_slist_append_real ? curl_slist_append_real(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	REAL(curl, slist_free_t, curl_slist_free_all);
	if (curl_slist_free_all_real)
		curl_slist_free_all_real(l);
}

/* One argument, whose type the option's number range says. */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc;
	va_list ap;

	REAL(curl, setopt_t, curl_easy_setopt);
	if (!curl_easy_setopt_real)
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = curl_easy_setopt_real(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = curl_easy_setopt_real(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = curl_easy_setopt_real(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = curl_easy_setopt_real(h, opt, va_arg(ap, curl_off_t));
	else
		rc = curl_easy_setopt_real(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* One pointer argument, where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	REAL(curl, getinfo_t, curl_easy_getinfo);
	if (!curl_easy_getinfo_real)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = curl_easy_getinfo_real(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* ---- libxml2 ---- */

typedef void (*init_parser_t)(void);
typedef void (*set_loader_t)(xmlExternalEntityLoader);
typedef xmlParserCtxtPtr (*new_ctxt_t)(void);
typedef void (*ctxt_void_t)(xmlParserCtxtPtr);
typedef xmlError *(*ctxt_error_t)(void *);
typedef xmlError *(*last_error_t)(void);
typedef xmlDocPtr (*read_memory_t)(xmlParserCtxtPtr, const char *, int,
				   const char *, const char *, int);
typedef xmlNodePtr (*root_t)(const xmlDoc *);
typedef void (*free_doc_t)(xmlDocPtr);

void xmlInitParser(void)
{
	REAL(xml2, init_parser_t, xmlInitParser);
	if (xmlInitParser_real)
		xmlInitParser_real();
}

void xmlSetExternalEntityLoader(xmlExternalEntityLoader f)
{
	REAL(xml2, set_loader_t, xmlSetExternalEntityLoader);
	if (xmlSetExternalEntityLoader_real)
		xmlSetExternalEntityLoader_real(f);
}

xmlParserCtxtPtr xmlNewParserCtxt(void)
{
	REAL(xml2, new_ctxt_t, xmlNewParserCtxt);
	return xmlNewParserCtxt_real ? xmlNewParserCtxt_real() : NULL;
}

void xmlFreeParserCtxt(xmlParserCtxtPtr c)
{
	REAL(xml2, ctxt_void_t, xmlFreeParserCtxt);
	if (xmlFreeParserCtxt_real)
		xmlFreeParserCtxt_real(c);
}

void xmlCtxtReset(xmlParserCtxtPtr c)
{
	REAL(xml2, ctxt_void_t, xmlCtxtReset);
	if (xmlCtxtReset_real)
		xmlCtxtReset_real(c);
}

xmlError *xmlCtxtGetLastError(void *c)
{
	REAL(xml2, ctxt_error_t, xmlCtxtGetLastError);
	return xmlCtxtGetLastError_real ? xmlCtxtGetLastError_real(c) : NULL;
}

xmlError *xmlGetLastError(void)
{
	REAL(xml2, last_error_t, xmlGetLastError);
	return xmlGetLastError_real ? xmlGetLastError_real() : NULL;
}

xmlDocPtr xmlCtxtReadMemory(xmlParserCtxtPtr c, const char *buffer, int size,
			    const char *url, const char *encoding, int options)
{
	REAL(xml2, read_memory_t, xmlCtxtReadMemory);
	return xmlCtxtReadMemory_real
		       ? xmlCtxtReadMemory_real(c, buffer, size, url, encoding,
						options)
		       : NULL;
}

xmlNodePtr xmlDocGetRootElement(const xmlDoc *doc)
{
	REAL(xml2, root_t, xmlDocGetRootElement);
	return xmlDocGetRootElement_real ? xmlDocGetRootElement_real(doc)
					 : NULL;
}

void xmlFreeDoc(xmlDocPtr doc)
{
	REAL(xml2, free_doc_t, xmlFreeDoc);
	if (xmlFreeDoc_real)
		xmlFreeDoc_real(doc);
}
