# Shared setup for the end-to-end suites: each test gets a fixture project
# and a state directory inside its own temporary directory.
#
#   load helpers
#   spec <<'EOF'          write $PROJ/buildspec.yml
#   ...
#   EOF
#   sw_build [options]    run slipway build $PROJ (bats `run`)
#   phase_status BUILD    the phase's status in $REPORT
#   phase_types           "DOWNLOAD_SOURCE INSTALL ..." from $REPORT
#   buildlog              the build.log named by $REPORT

SLIPWAY=${SLIPWAY:-$BATS_TEST_DIRNAME/../../slipway}

setup() {
	T=$BATS_TEST_TMPDIR
	PROJ=$T/proj
	STATE=$T/state
	REPORT=$T/report.json
	mkdir -p "$PROJ"
	MARK=$RANDOM$RANDOM$RANDOM
}

# Kill, by pid, what a failed test may have left behind: only processes
# carrying this test's random marker.
teardown() {
	local p
	for p in $(pgrep -f "sleep 1000\\.$MARK"); do
		kill -KILL "$p" 2>/dev/null || true
	done
}

spec() {
	cat >"$PROJ/buildspec.yml"
}

sw_build() {
	rm -f "$REPORT"
	run "$SLIPWAY" build "$PROJ" --state-dir "$STATE" --report "$REPORT" \
		"$@"
	LOG=
	if [ -f "$REPORT" ]; then
		LOG=$(jq -r .logs.location "$REPORT")
	fi
}

rj() {
	jq -r "$1" "$REPORT"
}

phase_status() {
	jq -r --arg p "$1" '.phases[] | select(.phaseType == $p) | .phaseStatus' \
		"$REPORT"
}

phase_ctx() { # phase, field (statusCode|message): the last context's
	jq -r --arg p "$1" --arg f "$2" \
		'.phases[] | select(.phaseType == $p) | .contexts[-1][$f]' \
		"$REPORT"
}

phase_types() {
	jq -r '[.phases[].phaseType] | join(" ")' "$REPORT"
}

buildlog() {
	cat "${LOG:-$(rj .logs.location)}"
}

# The value of NAME as the build printed it with `echo "NAME=$NAME"`.
printed() {
	buildlog | sed -n "s/^$1=//p" | head -n 1
}

# True when no process of this test's marker survives.
no_survivors() {
	! pgrep -f "sleep 1000\\.$MARK" >/dev/null
}

# Wait (up to 10 s) until a process with this test's marker runs.
wait_for_marker() {
	local i
	for i in $(seq 100); do
		pgrep -f "sleep 1000\\.$MARK" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

now_ms() {
	date +%s%3N
}

# Start slipway build in the background; sets SW_PID. Output goes to
# $T/out; fd 3 (bats) is closed so that bats does not wait on it.
sw_build_bg() {
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" --report "$REPORT" \
		"$@" >"$T/out" 2>&1 3>&- &
	SW_PID=$!
}

# Wait for SW_PID (at most $1 seconds); sets SW_STATUS.
sw_wait() {
	local i
	for i in $(seq $(($1 * 10))); do
		kill -0 "$SW_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SW_PID" 2>/dev/null; then
		kill -KILL "$SW_PID"
		echo "slipway did not end within $1 s" >&2
		return 1
	fi
	SW_STATUS=0
	wait "$SW_PID" || SW_STATUS=$?
	LOG=$(jq -r .logs.location "$REPORT")
}

# The source directory of the build whose build.log is $1 (CodeBuild's
# layout: <build>/codebuild/output/src<N>/src).
src_of() {
	local d
	d=$(dirname "$1")
	echo "$d"/codebuild/output/src*/src
}
