/*
 * reports: the test and code coverage reports of a buildspec's `reports:`
 * section (reference codebuild.md section 1.4), read from the files the
 * build left behind.
 *
 *   struct report_result r = REPORT_RESULT_INIT;
 *   -- g's name, files and base-directory already expanded by the caller
 *   if (reports_process(&g, srcdir, &r, &e) < 0)
 *           goto out;            -- ERR_SYSTEM only: disk, directory walk
 *   reports_log(&r, &lg);        -- summary, failures, warnings
 *   json_object_array_add(reports, reports_json(&r, &mask));
 *   out:
 *   reports_result_release(&r);  -- also after a failure
 *
 * Bad input never fails the call: a missing, empty, oversized, malformed
 * or foreign file, an unsupported format or a path refused by the
 * artifact rules becomes one line in r->warnings, and a group with no file
 * read gets status INCOMPLETE. Run it after the build phases whatever
 * their outcome; a report FAILED does not by itself fail the build.
 *
 * Files are found exactly as artifacts_collect() finds them (files,
 * base-directory, discard-paths; with discard-paths two files with the
 * same base name keep only the first). Each is read whole (at most
 * REPORTS_MAX_FILE bytes, regular files only) and parsed with libxml2
 * (json-c for CUCUMBERJSON and SIMPLECOV) with no network, no DTD loading
 * and no entity substitution; this module also installs a process-wide
 * libxml2 external entity loader that refuses everything. A file that is
 * not valid UTF-8 and declares no encoding is read again as ISO-8859-1,
 * with a warning.
 *
 * Formats (file-format, upper case; NULL means JUNITXML):
 *   tests:    JUNITXML (pytest, Maven surefire, jest-junit,
 *             go-junit-report, gotestsum, googletest; a <testsuites> or
 *             <testsuite> root, suites nested at any depth), NUNITXML
 *             (NUnit 2), NUNIT3XML, TESTNGXML, VISUALSTUDIOTRX,
 *             CUCUMBERJSON
 *   coverage: COBERTURAXML, JACOCOXML, CLOVERXML, SIMPLECOV
 *             (simplecov-json)
 * Test counts come from the test cases, never from the totals a file
 * claims; the duration is the sum of the test cases' times. Coverage
 * comes from the file's totals (summed over files), or, for Cobertura
 * without lines-valid, from counting its <line> elements.
 *
 * Status: INCOMPLETE when no file was read (none matched, none parsed,
 * or the format is unknown); otherwise a test report is FAILED when a
 * test failed or errored, else SUCCEEDED, and a coverage report is
 * SUCCEEDED.
 */
#ifndef SW_REPORTS_H
#define SW_REPORTS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buildspec.h"
#include "err.h"
#include "log.h"
#include "mask.h"
#include "strvec.h"

/* Larger files are skipped with a warning. */
#define REPORTS_MAX_FILE (64UL << 20)
/* Failing test cases kept in a result; the rest are only counted. */
#define REPORTS_MAX_FAILURES 20
/* Bytes kept of a failure message (its first line), at a UTF-8 boundary. */
#define REPORTS_MAX_MESSAGE 300

enum report_type { REPORT_TEST, REPORT_CODE_COVERAGE };

enum report_status { REPORT_SUCCEEDED, REPORT_FAILED, REPORT_INCOMPLETE };

/* CodeBuild's test case statuses. */
enum report_case_status {
	REPORT_CASE_SUCCEEDED,
	REPORT_CASE_FAILED,
	REPORT_CASE_SKIPPED,
	REPORT_CASE_ERROR,
	REPORT_CASE_UNKNOWN, /* inconclusive, pending, undefined ... */
	REPORT_CASE_NR
};

struct report_failure {
	char *name; /* the test case */
	char *suite; /* classname, else the enclosing suite; may be "" */
	char *message; /* first line of the message; may be "" */
	enum report_case_status status; /* FAILED or ERROR */
};

struct report_result {
	char *name; /* the group's key as given (a name or an ARN) */
	enum report_type type;
	char *file_format; /* upper case */
	enum report_status status;
	struct strvec files; /* matched, relative to srcdir where inside it */
	size_t files_parsed;

	/* REPORT_TEST */
	uint64_t total;
	uint64_t counts[REPORT_CASE_NR]; /* indexed by report_case_status */
	uint64_t duration_ns;
	struct report_failure *failures; /* the first REPORTS_MAX_FAILURES */
	size_t nr_failures, alloc_failures;

	/* REPORT_CODE_COVERAGE; percentages are 0..100 */
	double line_pct, branch_pct;
	uint64_t lines_covered, lines_missed;
	uint64_t branches_covered, branches_missed;

	struct strvec warnings; /* "<file>:<line>: <what>" or "<what>" */
};

#define REPORT_RESULT_INIT                                                     \
	{                                                                      \
		0                                                              \
	}

/*
 * Read the report files of group g under srcdir into *r, which must be
 * REPORT_RESULT_INIT (or released). The group's strings are borrowed and
 * used as they are (the caller expands variables first). Returns 0, or -1
 * with *e set (ERR_SYSTEM) when the file search itself failed; r then
 * holds what was known and must still be released.
 */
int reports_process(const struct bs_report_group *g, const char *srcdir,
		    struct report_result *r, struct sw_err *e);

/*
 * Agent lines for r:
 *   Report group <name>: <warning>                 (each warning)
 *   Report group <name>: 42 tests, 40 passed, 1 failed, 1 skipped (0.53s)
 *     FAILED <suite>.<name>: <message>             (each kept failure)
 *     ... and 3 more
 *   Coverage <name>: 83.4% lines (1234/1480), 61.0% branches (50/82)
 *   Report group <name>: INCOMPLETE, no report files found
 * ", N errors" and ", N unknown" are added to the summary when not 0.
 * Masking is the log's.
 */
void reports_log(const struct report_result *r, struct log *lg);

/*
 * A new object shaped like CodeBuild's Report (caller owns it, json-c
 * reference): name, reportGroupName (the part after "report-group/" of
 * an ARN, else the name; a caller that knows the project may replace it
 * with "<project>-<name>"), type ("TEST" | "CODE_COVERAGE"), fileFormat,
 * status, then testSummary {total, statusCounts {SUCCEEDED, FAILED,
 * SKIPPED, ERROR, UNKNOWN}, durationInNanoSeconds} for tests or
 * codeCoverageSummary {lineCoveragePercentage, linesCovered, linesMissed,
 * branchCoveragePercentage, branchesCovered, branchesMissed} for coverage,
 * failures [{name, suite, message, status}], files [...] and warnings
 * [...]. Every string goes through m (which may be NULL).
 */
json_object *reports_json(const struct report_result *r, const struct mask *m);

/* "TEST" / "CODE_COVERAGE"; "SUCCEEDED" / "FAILED" / "INCOMPLETE";
 * "SUCCEEDED" / "FAILED" / "SKIPPED" / "ERROR" / "UNKNOWN". */
const char *report_type_name(enum report_type t);
const char *report_status_name(enum report_status s);
const char *report_case_status_name(enum report_case_status s);

/* Free the contents; r is REPORT_RESULT_INIT again. */
void reports_result_release(struct report_result *r);

#endif
