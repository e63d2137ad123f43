#!/usr/bin/env bats
# build --watch: a build per change (inotify), stale builds stopped, what
# git ignores, .git and the state directory left out. No sleeps: each
# step waits for a line of output, with a bounded poll.

load helpers

WPID=

# Start `slipway build $PROJ --watch`, its lines in $T/watch.out. The
# state directory is inside the source, as .slipway in the project's
# directory is: the builds' own writes there must not count.
watch_start() {
	STATE=$PROJ/.slipway
	git -C "$PROJ" init -q
	git -C "$PROJ" add -A
	git -C "$PROJ" -c user.email=t@t -c user.name=t commit -qm init
	"$SLIPWAY" build "$PROJ" --watch --state-dir "$STATE" "$@" \
		>"$T/watch.out" 2>"$T/watch.err" &
	WPID=$!
}

# Wait (at most 20 s) until line number $1 of the builds' lines exists;
# print it.
nth_build() {
	local i line
	for i in $(seq 1 200); do
		line=$(grep -E "^[0-9:]{8} #" "$T/watch.out" | sed -n "${1}p")
		if [ -n "$line" ]; then
			echo "$line"
			return 0
		fi
		kill -0 "$WPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "no build line $1 in:" >&2
	cat "$T/watch.out" "$T/watch.err" >&2
	return 1
}

# Wait (at most 20 s) for the file $1.
wait_file() {
	local i
	for i in $(seq 1 200); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

teardown() {
	if [ -n "$WPID" ]; then
		kill -INT "$WPID" 2>/dev/null || true
		wait "$WPID" 2>/dev/null || true
	fi
}

@test "build --watch: a change builds again, one line per build" {
	printf 'ignored/\n' >"$PROJ/.gitignore"
	mkdir -p "$PROJ/src" "$PROJ/ignored"
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - test -f src/ok
EOF2
	watch_start
	run nth_build 1
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[0-9:]{8}\ #1\ FAILED\ in\ [0-9.]+s:\ phase\ BUILD ]]
	# the work tree as it is: an uncommitted file counts
	: >"$PROJ/src/ok"
	run nth_build 2
	[ "$status" -eq 0 ]
	[[ "$output" =~ \#2\ SUCCEEDED\ in\ [0-9.]+s\ \(src/ok\ changed\)$ ]]
	# what git ignores, .git and the state directory do not count: the
	# next build says the change that came after them made it
	: >"$PROJ/ignored/x"
	: >"$PROJ/.git/x"
	mkdir -p "$STATE/x" && : >"$STATE/x/y"
	: >"$PROJ/src/real"
	run nth_build 3
	[ "$status" -eq 0 ]
	[[ "$output" == *"#3 SUCCEEDED"*"(src/real changed)" ]]
	[ "$(grep -c '^[0-9:]\{8\} #' "$T/watch.out")" -eq 3 ]
	# a new directory is watched too
	mkdir "$PROJ/src/new"
	: >"$PROJ/src/new/file"
	run nth_build 4
	[ "$status" -eq 0 ]
	[[ "$output" == *"#4 SUCCEEDED"*"(src/new"* ]]
	kill -INT "$WPID"
	wait "$WPID" || true
	WPID=
	[ ! -s "$T/watch.err" ]
}

@test "build --watch: a change stops the running build as stale" {
	mkfifo "$T/gate"
	mkdir -p "$PROJ/src"
	spec <<EOF2
version: 0.2
phases:
  build:
    commands:
      - if [ -f src/block ]; then touch "$T/started"; cat "$T/gate"; fi
EOF2
	: >"$PROJ/src/block"
	watch_start
	wait_file "$T/started"
	rm "$PROJ/src/block" # the running build is stale now
	run nth_build 1
	[ "$status" -eq 0 ]
	[[ "$output" == *"#1 STOPPED in "*"(stale: src/block changed)" ]]
	run nth_build 2
	[ "$status" -eq 0 ]
	[[ "$output" == *"#2 SUCCEEDED"* ]]
	local d statuses=
	for d in "$STATE"/builds/*; do
		[ -L "$d" ] || statuses="$statuses $(jq -r .buildStatus "$d/report.json")"
	done
	[ "$(echo $statuses | tr ' ' '\n' | sort | tr '\n' ' ')" = "STOPPED SUCCEEDED " ]
}

@test "build --watch: refused with --break, --from and a source that is no directory" {
	run "$SLIPWAY" build "$PROJ" --watch --from build --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--watch builds SOURCE as it changes"* ]]
	run "$SLIPWAY" build https://example.invalid/x.git --watch \
		--state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--watch needs a directory here as SOURCE"* ]]
}

# Wait (at most 20 s) for line $1 of validate --watch's check lines.
nth_check() {
	local i line
	for i in $(seq 1 200); do
		line=$(grep -E "^[0-9:]{8} validate: " "$T/watch.out" |
			sed -n "${1}p")
		if [ -n "$line" ]; then
			echo "$line"
			return 0
		fi
		sleep 0.1
	done
	cat "$T/watch.out" "$T/watch.err" >&2
	return 1
}

@test "validate --watch: checks again when one of its files changes" {
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands: [make]
EOF2
	"$SLIPWAY" validate --watch "$PROJ/buildspec.yml" >"$T/watch.out" \
		2>"$T/watch.err" &
	WPID=$!
	run nth_check 1
	[[ "$output" == *"validate: all valid" ]]
	printf 'version: 0.2\nphases: [\n' >"$PROJ/buildspec.yml"
	run nth_check 2
	[[ "$output" == *"validate: invalid"* ]]
	grep -q "error: .*buildspec.yml:" "$T/watch.err"
	# another file in the directory does not count
	: >"$PROJ/other.txt"
	printf 'version: 0.2\nphases:\n  build:\n    commands: [true]\n' \
		>"$PROJ/buildspec.yml"
	run nth_check 3
	[[ "$output" == *"validate: all valid" ]]
	[ "$(grep -c "validate: " "$T/watch.out")" -eq 3 ]
}
