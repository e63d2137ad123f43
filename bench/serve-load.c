/*
 * serve-load: a small HTTP/1.1 load generator for bench/serve.
 *
 *   serve-load PORT PATH CLIENTS SECONDS [HEADER]
 *
 * CLIENTS threads, each on one keep-alive connection to 127.0.0.1:PORT,
 * send GET PATH (with HEADER, e.g. "Authorization: Bearer T", when
 * given) one after the other for SECONDS, and read each whole answer
 * (Content-Length or chunked). Prints "requests/s non-2xx p50-ms p99-ms".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;
static const char *path, *header;
static double seconds;

struct worker {
	pthread_t t;
	long ok, bad;
	double *lat;
	size_t nlat, alat;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one answer; its status, or -1 when the connection broke. */
static int answer(int fd, char *buf, size_t size, size_t *have)
{
	size_t n = *have, head;
	char *end;
	int status;
	long len = -1;
	int chunked = 0;

	for (;;) {
		buf[n] = 0;
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
		if (n + 1 >= size)
			return -1;
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
	}
	head = (size_t)(end - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	for (char *l = strstr(buf, "\r\n") + 2; l < end;
	     l = strstr(l, "\r\n") + 2) {
		if (!strncasecmp(l, "Content-Length:", 15))
			len = atol(l + 15);
		if (!strncasecmp(l, "Transfer-Encoding:", 18) &&
		    strstr(l, "chunked") && strstr(l, "chunked") < end)
			chunked = 1;
	}
	memmove(buf, buf + head, n - head);
	n -= head;
	if (chunked) {
		/* chunks until the one of size 0 and its CRLF */
		for (;;) {
			char *crlf;
			long c;

			buf[n] = 0;
			while (!(crlf = strstr(buf, "\r\n"))) {
				ssize_t r = read(fd, buf + n, size - 1 - n);
				if (r <= 0)
					return -1;
				n += (size_t)r;
				buf[n] = 0;
			}
			c = strtol(buf, NULL, 16);
			size_t need = (size_t)(crlf - buf) + 2 + (size_t)c + 2;
			while (n < need) {
				ssize_t r = read(fd, buf + n, size - 1 - n);
				if (r <= 0)
					return -1;
				n += (size_t)r;
			}
			memmove(buf, buf + need, n - need);
			n -= need;
			if (!c)
				break;
		}
	} else if (len >= 0) {
		while (n < (size_t)len) {
			ssize_t r = read(fd, buf + n, size - 1 - n);
			if (r <= 0)
				return -1;
			n += (size_t)r;
		}
		memmove(buf, buf + len, n - (size_t)len);
		n -= (size_t)len;
	}
	*have = n;
	return status;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	static __thread char buf[1 << 20];
	char req[1024];
	int rl = snprintf(req, sizeof(req),
			  "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s"
			  "Connection: keep-alive\r\n\r\n",
			  path, header ? header : "", header ? "\r\n" : "");
	double until = now() + seconds;
	int fd = dial();
	size_t have = 0;

	while (fd >= 0 && now() < until) {
		double t0 = now();
		int st;

		if (write(fd, req, (size_t)rl) != rl ||
		    (st = answer(fd, buf, sizeof(buf), &have)) < 0) {
			close(fd);
			have = 0;
			fd = dial();
			w->bad++;
			continue;
		}
		if (st >= 200 && st < 300)
			w->ok++;
		else
			w->bad++;
		if (w->nlat == w->alat) {
			w->alat = w->alat ? 2 * w->alat : 1024;
			w->lat = realloc(w->lat, w->alat * sizeof(double));
		}
		w->lat[w->nlat++] = (now() - t0) * 1000;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n;
	struct worker *w;
	double t0, el, *all;
	long ok = 0, bad = 0;
	size_t nall = 0, k = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: serve-load PORT PATH CLIENTS SECONDS "
				"[HEADER]\n");
		return 2;
	}
	port = atoi(argv[1]);
	path = argv[2];
	n = atoi(argv[3]);
	seconds = atof(argv[4]);
	header = argc > 5 ? argv[5] : NULL;
	w = calloc((size_t)n, sizeof(*w));
	t0 = now();
	for (int i = 0; i < n; i++)
		pthread_create(&w[i].t, NULL, run, &w[i]);
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].t, NULL);
		ok += w[i].ok;
		bad += w[i].bad;
		nall += w[i].nlat;
	}
	el = now() - t0;
	all = malloc((nall ? nall : 1) * sizeof(double));
	for (int i = 0; i < n; i++) {
		memcpy(all + k, w[i].lat, w[i].nlat * sizeof(double));
		k += w[i].nlat;
		free(w[i].lat);
	}
	qsort(all, nall, sizeof(double), cmp);
	printf("%.0f %ld %.2f %.2f\n", ok / el, bad, nall ? all[nall / 2] : 0.0,
	       nall ? all[(size_t)(nall * 0.99)] : 0.0);
	free(all);
	free(w);
	return 0;
}
