#!/usr/bin/env bats
# reports: test and coverage reports read after the build phases, summed
# up at the end of the log and in report.json.

load helpers

FIX=$BATS_TEST_DIRNAME/../fixtures/reports

@test "JUnit and Cobertura reports are summed up even when BUILD failed" {
	cp "$FIX/pytest.xml" "$FIX/cobertura-coveragepy.xml" "$PROJ/"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p reports && cp pytest.xml reports/unit-$STAGE.xml
      - "false"
reports:
  unit-$STAGE:
    files:
      - 'reports/*.xml'
  coverage:
    files:
      - cobertura-coveragepy.xml
    file-format: coberturaxml
EOF
	sw_build -e STAGE=ci
	[ "$status" -eq 1 ]
	[ "$(jq '.reports | length' "$REPORT")" -eq 2 ]
	[ "$(jq -r '.reports[0].reportGroupName' "$REPORT")" = "proj-unit-ci" ]
	[ "$(jq -r '.reports[0].type' "$REPORT")" = TEST ]
	total=$(jq -r '.reports[0].testSummary.total' "$REPORT")
	[ "$total" -gt 0 ]
	[ "$(jq -r '.reports[1].type' "$REPORT")" = CODE_COVERAGE ]
	jq -e '.reports[1].codeCoverageSummary.lineCoveragePercentage > 0' "$REPORT"
	# the summary is at the end of the log, after the build phases
	log=$(buildlog)
	echo "$log" | grep -q "Report group unit-ci: $total tests"
	echo "$log" | grep -q "Coverage coverage: "
	[ "$(echo "$log" | grep -n 'Report group unit-ci' | cut -d: -f1)" -gt \
	  "$(echo "$log" | grep -n 'Phase complete: POST_BUILD' | cut -d: -f1)" ]
}

@test "failing tests are named with their message" {
	cp "$FIX/surefire.xml" "$PROJ/"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - "true"
reports:
  surefire:
    files:
      - surefire.xml
EOF
	sw_build
	[ "$status" -eq 0 ]
	failed=$(jq -r '.reports[0].testSummary.statusCounts.FAILED' "$REPORT")
	[ "$failed" -gt 0 ]
	[ "$(jq -r '.reports[0].status' "$REPORT")" = FAILED ]
	buildlog | grep -q '^.*  FAILED '
}

@test "malformed and hostile report files warn and never fail the build" {
	cp "$FIX/malformed.xml" "$FIX/billion-laughs.xml" "$FIX/xxe.xml" "$PROJ/"
	head -c 3000 /dev/urandom >"$PROJ/garbage.xml"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - "true"
reports:
  hostile:
    files:
      - '*.xml'
  none:
    files:
      - no-such-dir/*.xml
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	buildlog | grep -q 'malformed.xml'
	[ "$(jq -r '.reports[1].status' "$REPORT")" = INCOMPLETE ]
	! grep -q 'root:x:0:0' "$REPORT" || false
}
