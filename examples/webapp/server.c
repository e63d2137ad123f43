/*
 * webapp: a tiny HTTP responder, the service the example deploys.
 *
 *   webapp -p PORT -n NAME -V VERSION [-P PIDFILE] [-a ADDRESS]
 *
 * Listens on ADDRESS:PORT (default 127.0.0.1) and answers, one connection at a time,
 *   GET /        200 "webapp VERSION on NAME"
 *   GET /health  200 "ok"
 * each with an X-Version: VERSION header; anything else 404 (405 for a
 * method other than GET or HEAD). The pid
 * file is written once the port is listening and removed on exit;
 * SIGTERM or SIGINT ends it cleanly (exit 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The response to one request line: its status code, body in body. */
static int route(const char *req, const char *version, const char *name,
		 char *body, size_t size)
{
	char method[8], path[256];

	if (sscanf(req, "%7s %255s", method, path) != 2) {
		snprintf(body, size, "bad request\n");
		return 400;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		snprintf(body, size, "method not allowed\n");
		return 405;
	}
	path[strcspn(path, "?")] = '\0';
	if (!strcmp(path, "/")) {
		snprintf(body, size, "webapp %s on %s\n", version, name);
		return 200;
	}
	if (!strcmp(path, "/health")) {
		snprintf(body, size, "ok\n");
		return 200;
	}
	snprintf(body, size, "not found\n");
	return 404;
}

#ifndef WEBAPP_NO_MAIN
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void serve(int c, const char *version, const char *name)
{
	char req[4096], body[512], head[384];
	struct timeval tv = { 2, 0 };
	size_t len = 0;
	ssize_t n;
	int code, hl;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(req) - 1 &&
	       (n = read(c, req + len, sizeof(req) - 1 - len)) > 0) {
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	req[len] = '\0';
	code = route(req, version, name, body, sizeof(body));
	/* X-Version: what a probe through a load balancer counts */
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\n"
		      "X-Version: %.64s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n",
		      code, code == 200 ? "OK" : "Error", version,
		      strlen(body));
	if (write(c, head, (size_t)hl) == hl && strncmp(req, "HEAD ", 5))
		(void)!write(c, body, strlen(body));
	printf("%d %.*s\n", code, (int)strcspn(req, "\r\n"), req);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *name = "localhost", *version = "0", *pidfile = NULL;
	const char *addr = "127.0.0.1";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sigaction act = { .sa_handler = on_signal };
	struct timeval tick = { 1, 0 };
	long port = 0;
	char *end;
	int opt, s, one = 1;
	FILE *f;

	while ((opt = getopt(argc, argv, "p:n:V:P:a:")) != -1) {
		switch (opt) {
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				fprintf(stderr, "webapp: bad port '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			name = optarg;
			break;
		case 'V':
			version = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		case 'a':
			addr = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: webapp -p PORT -n NAME "
				"-V VERSION [-P PIDFILE] [-a ADDRESS]\n");
			return 2;
		}
	}
	if (!port) {
		fprintf(stderr, "webapp: -p PORT is required\n");
		return 2;
	}
	sigaction(SIGTERM, &act, NULL); /* no SA_RESTART: accept returns */
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "webapp: bad address '%s'\n", addr);
		return 2;
	}
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s, 16) < 0) {
		fprintf(stderr, "webapp: %s:%ld: %s\n", addr, port,
			strerror(errno));
		return 1;
	}
	/* accept() wakes every second, so a signal is never missed */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
	if (pidfile) {
		if (!(f = fopen(pidfile, "w"))) {
			fprintf(stderr, "webapp: %s: %s\n", pidfile,
				strerror(errno));
			return 1;
		}
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
	printf("webapp %s on %s listening on %s:%ld\n", version, name, addr,
	       port);
	fflush(stdout);
	while (!stopping) {
		int c = accept(s, NULL, NULL);

		if (c < 0) /* EINTR, or the 1 s timeout: check stopping */
			continue;
		serve(c, version, name);
		close(c);
	}
	close(s);
	if (pidfile)
		unlink(pidfile);
	printf("webapp stopped\n");
	return 0;
}
#endif
