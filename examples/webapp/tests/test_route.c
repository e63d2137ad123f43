/*
 * Unit tests of the webapp's request routing, written as JUnit XML.
 *
 *   cc -o test_route tests/test_route.c && ./test_route reports/junit.xml
 *
 * Exit status 1 when a test failed (the XML says which and why).
 */
#define WEBAPP_NO_MAIN
#include "../server.c"

struct result {
	const char *name;
	char failure[256];
};

static struct result results[16];
static int nr_results, nr_failed;

static void check(const char *name, const char *req, int want_code,
		  const char *want_body)
{
	struct result *r = &results[nr_results++];
	char body[512];
	int code = route(req, "1.2.3", "web-1", body, sizeof(body));

	r->name = name;
	r->failure[0] = '\0';
	if (code != want_code || strcmp(body, want_body)) {
		snprintf(r->failure, sizeof(r->failure),
			 "got %d '%.*s', want %d '%.*s'", code,
			 (int)strcspn(body, "\n"), body, want_code,
			 (int)strcspn(want_body, "\n"), want_body);
		nr_failed++;
	}
}

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "w") : stdout;

	if (!f) {
		perror(argv[1]);
		return 2;
	}
	check("root names the version and the host", "GET / HTTP/1.1\r\n", 200,
	      "webapp 1.2.3 on web-1\n");
	check("health is ok", "GET /health HTTP/1.0\r\n", 200, "ok\n");
	check("a query string is ignored", "GET /health?x=1 HTTP/1.0\r\n", 200,
	      "ok\n");
	check("HEAD is answered", "HEAD / HTTP/1.0\r\n", 200,
	      "webapp 1.2.3 on web-1\n");
	check("an unknown path is 404", "GET /nope HTTP/1.0\r\n", 404,
	      "not found\n");
	check("POST is refused", "POST / HTTP/1.0\r\n", 405,
	      "method not allowed\n");
	check("garbage is a bad request", "", 400, "bad request\n");

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	fprintf(f, "<testsuite name=\"route\" tests=\"%d\" failures=\"%d\">\n",
		nr_results, nr_failed);
	for (int i = 0; i < nr_results; i++) {
		fprintf(f, "  <testcase classname=\"webapp.route\" name=\"%s\"",
			results[i].name);
		if (results[i].failure[0])
			fprintf(f,
				">\n    <failure message=\"%s\"/>\n"
				"  </testcase>\n",
				results[i].failure);
		else
			fprintf(f, "/>\n");
		printf("%s: %s%s%s\n", results[i].failure[0] ? "FAIL" : "ok",
		       results[i].name, results[i].failure[0] ? ": " : "",
		       results[i].failure);
	}
	fprintf(f, "</testsuite>\n");
	if (f != stdout)
		fclose(f);
	printf("%d tests, %d failed\n", nr_results, nr_failed);
	return nr_failed ? 1 : 0;
}
