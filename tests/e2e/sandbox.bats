#!/usr/bin/env bats
# slipway build --isolation sandbox: namespaces made by slipway; the host
# read-only, the source at CodeBuild's layout, no process left behind.

load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	PROJ=$T/proj
	STATE=$T/state
	REPORT=$T/report.json
	mkdir -p "$PROJ"
	MARK=$RANDOM$RANDOM$RANDOM
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
}

@test "sandbox: writing outside the source and /tmp fails" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - touch /tmp/in-tmp.$MARK && echo tmp-ok
      - echo hello >in-src && echo src-ok
      - touch /etc/sandbox-escape.$MARK
EOF
	sw_build --isolation sandbox -e MARK=$MARK
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(phase_ctx BUILD statusCode)" = COMMAND_EXECUTION_ERROR ]
	buildlog | grep -qx tmp-ok
	buildlog | grep -qx src-ok
	buildlog | grep -q "Read-only file system"
	[ ! -e "/etc/sandbox-escape.$MARK" ]
	# the build's /tmp is its own
	[ ! -e "/tmp/in-tmp.$MARK" ]
	[ "$(cat "$(src_of "$LOG")/in-src")" = hello ]
}

@test "sandbox: HOME is read-only" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - touch "$HOME/sandbox-escape.$MARK"
EOF
	sw_build --isolation sandbox -e MARK=$MARK
	[ "$status" -eq 1 ]
	[ "$(phase_ctx BUILD statusCode)" = COMMAND_EXECUTION_ERROR ]
	buildlog | grep -q "Read-only file system"
	[ ! -e "$HOME/sandbox-escape.$MARK" ]
}

@test "sandbox: CODEBUILD_SRC_DIR and pwd are /codebuild/output/src<N>/src" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "srcdir=$CODEBUILD_SRC_DIR"
      - echo "pwd=$(pwd)"
      - mkdir -p sub && cd sub
      - echo "then=$(pwd)"
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	src=$(buildlog | sed -n 's/^srcdir=//p')
	[[ "$src" =~ ^/codebuild/output/src[0-9]+/src$ ]]
	buildlog | grep -qx "pwd=$src"
	buildlog | grep -qx "then=$src/sub"
	# slipway itself works on the real directory
	[ -d "$(src_of "$LOG")/sub" ]
}

@test "sandbox: the build sees only its own processes" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "procs=$(ls /proc | grep -c '^[0-9]')"
      - ps -e -o pid=,comm=
EOF
	sleep 1000.$MARK &
	sw_build --isolation sandbox
	kill $!
	[ "$status" -eq 0 ]
	n=$(buildlog | sed -n 's/^procs=//p')
	[ "$n" -le 6 ]
	! buildlog | grep -q "sleep" || false
	buildlog | grep -qE '^ +1 '
}

@test "sandbox: a double-forked daemon does not outlive the build" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - (setsid sleep 1000.$MARK >/dev/null 2>&1 &) ; sleep 0.2
      - echo "started=$(pgrep -fc "sleep 1000.$MARK")"
EOF
	sw_build --isolation sandbox -e MARK=$MARK
	[ "$status" -eq 0 ]
	buildlog | grep -qx "started=1"
	run pgrep -f "sleep 1000.$MARK"
	[ "$status" -eq 1 ]
}

@test "sandbox: a timed-out build leaves nothing behind" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - setsid sleep 1000.$MARK &
      - sleep 1000.$MARK
EOF
	sw_build --isolation sandbox --timeout 2s -e MARK=$MARK
	[ "$status" -eq 4 ]
	[ "$(rj .buildStatus)" = TIMED_OUT ]
	run pgrep -f "sleep 1000.$MARK"
	[ "$status" -eq 1 ]
}

@test "sandbox: a stopped build leaves nothing behind" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - setsid sleep 1000.$MARK &
      - trap '' TERM; sleep 1000.$MARK
EOF
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" --report "$REPORT" \
		--isolation sandbox -q -e MARK=$MARK 2>/dev/null &
	pid=$!
	for _ in $(seq 50); do
		[ "$(pgrep -fc "sleep 1000.$MARK")" -ge 2 ] && break
		sleep 0.1
	done
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	[ "$st" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	run pgrep -f "sleep 1000.$MARK"
	[ "$status" -eq 1 ]
}

@test "sandbox: --network none has no route and cannot reach the host" {
	command -v python3 >/dev/null || skip "python3 is needed for a listener"
	python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
print(s.getsockname()[1], flush=True)
time.sleep(60)' >"$T/port" &
	listener=$!
	for _ in $(seq 50); do
		[ -s "$T/port" ] && break
		sleep 0.1
	done
	port=$(cat "$T/port")
	spec <<'EOF'
version: 0.2
env:
  shell: bash
phases:
  build:
    commands:
      - echo "routes=$(ip route 2>/dev/null | wc -l)"
      - (exec 3<>/dev/tcp/127.0.0.1/$PORT) && echo reached || echo unreachable
EOF
	sw_build --isolation sandbox --network none -e PORT=$port
	[ "$status" -eq 0 ]
	buildlog | grep -qx "routes=0"
	buildlog | grep -qx unreachable
	# without --network none the host's loopback is the build's
	sw_build --isolation sandbox -e PORT=$port
	kill $listener
	[ "$status" -eq 0 ]
	buildlog | grep -qx reached
}

@test "sandbox: --pids refuses forks past the limit and the build fails" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - i=0; while [ $i -lt 200 ]; do sleep 1000.$MARK & i=$((i+1)); done
EOF
	sw_build --isolation sandbox --pids 50 -e MARK=$MARK
	[ "$status" -eq 1 ]
	[ "$(phase_ctx BUILD statusCode)" = COMMAND_EXECUTION_ERROR ]
	buildlog | grep -q "Cannot fork"
	buildlog | grep -q "limits: pids by"
	if buildlog | grep -q "pids by cgroup"; then
		buildlog | grep -q "Sandbox limits: the pids limit refused"
	fi
	run pgrep -f "sleep 1000.$MARK"
	[ "$status" -eq 1 ]
}

@test "sandbox: a fork bomb under --pids is contained and ends with the build" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - 'bomb() { bomb | bomb & }; bomb; sleep 2; exit 1'
EOF
	sw_build --isolation sandbox --pids 50 --timeout 60s
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(phase_status FINALIZING)" = SUCCEEDED ]
}

@test "sandbox: --memory stops a memory hog" {
	command -v python3 >/dev/null || skip "python3 is needed"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - python3 -c 'b = bytearray(512 << 20); b[-1] = 1; print("allocated")'
EOF
	sw_build --isolation sandbox --memory 64M
	[ "$status" -eq 1 ]
	! buildlog | grep -qx allocated || false
	buildlog | grep -q "memory by"
	if buildlog | grep -q "memory by cgroup"; then
		buildlog | grep -q "Sandbox limits: the memory limit killed 1"
	fi
}

@test "sandbox: artifacts are collected from the source" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p dist && echo "built in $CODEBUILD_SRC_DIR" >dist/out.txt
artifacts:
  base-directory: dist
  files:
    - out.txt
EOF
	sw_build --isolation sandbox -o "$T/out" --packaging none
	[ "$status" -eq 0 ]
	grep -rq "^built in /codebuild/output/src" "$T/out"
}

@test "sandbox: artifact paths through CODEBUILD_SRC_DIR name the source" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p dist && echo made >dist/out.txt
artifacts:
  base-directory: $CODEBUILD_SRC_DIR/dist
  files:
    - out.txt
EOF
	sw_build --isolation sandbox -o "$T/out" --packaging none
	[ "$status" -eq 0 ]
	grep -rqx made "$T/out"
}

@test "sandbox: a batch's builds each get a sandbox of their own" {
	spec <<'EOF'
version: 0.2
batch:
  build-list:
    - identifier: a
    - identifier: b
phases:
  build:
    commands:
      - echo "id=$CODEBUILD_BATCH_BUILD_IDENTIFIER src=$CODEBUILD_SRC_DIR procs=$(ls /proc | grep -c '^[0-9]')"
      - setsid sleep 1000.$MARK &
EOF
	sw_build --isolation sandbox -j 2 -e MARK=$MARK
	[ "$status" -eq 0 ]
	[[ "$output" == *"id=a src=/codebuild/output/src"* ]]
	[[ "$output" == *"id=b src=/codebuild/output/src"* ]]
	a=$(printf '%s\n' "$output" | sed -n 's/.*id=a src=\([^ ]*\).*/\1/p')
	b=$(printf '%s\n' "$output" | sed -n 's/.*id=b src=\([^ ]*\).*/\1/p')
	[ "$a" != "$b" ]
	run pgrep -f "sleep 1000.$MARK"
	[ "$status" -eq 1 ]
}

@test "sandbox: codebuild-hash-files works inside, also in a cache key" {
	echo content >"$PROJ/f.txt"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "hash=$(codebuild-hash-files f.txt)"
cache:
  key: k-$(codebuild-hash-files f.txt)
  paths:
    - f.txt
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	inside=$(buildlog | sed -n 's/^hash=//p')
	[ ${#inside} -eq 64 ]
	buildlog | grep -q "Saving cache: key k-$inside"
}

@test "sandbox: absolute cache paths are mounted where the buildspec says" {
	A=/var/cache/slipway-test-$MARK
	B=/root/.slipway-test-cache-$MARK
	C=/tmp/slipway-test-cache-$MARK
	[ -d /var/cache ] && [ -d /root ] || skip "needs /var/cache and /root"
	# one of the machine's own entries beside the mount point
	other=$(ls -A /var/cache | head -n 1)
	cat >"$PROJ/buildspec.yml" <<EOF
version: 0.2
phases:
  build:
    commands:
      - echo "found=\$(cat $A/deep/f.txt 2>/dev/null || echo none)"
      - echo "found2=\$(cat $B/g.txt 2>/dev/null || echo none)"
      - echo "found3=\$(cat $C/h.txt 2>/dev/null || echo none)"
      - mkdir -p $A/deep && echo one >$A/deep/f.txt
      - echo two >$B/g.txt && echo three >$C/h.txt
      - test -z "$other" || test -e "/var/cache/$other" && echo other-ok
      - touch /var/cache/escape.$MARK 2>/dev/null || echo var-cache-ro
      - touch /root/escape.$MARK 2>/dev/null || echo root-ro
cache:
  paths:
    - $A/**/*
    - $B/**/*
    - $C/**/*
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	buildlog | grep -q "Cache directories mounted from .*: $B, $C, $A"
	buildlog | grep -qx found=none
	buildlog | grep -qx other-ok
	buildlog | grep -qx var-cache-ro
	buildlog | grep -qx root-ro
	buildlog | grep -q "Saving cache: .*3 files"
	[ ! -e "$A" ] && [ ! -e "$B" ] && [ ! -e "$C" ]
	[ ! -e /var/cache/escape.$MARK ] && [ ! -e /root/escape.$MARK ]
	# the build's own copy
	[ "$(cat "$(dirname "$LOG")/cache-root$A/deep/f.txt")" = one ]

	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	buildlog | grep -q "Restoring cache: .*3 files"
	buildlog | grep -qx found=one
	buildlog | grep -qx found2=two
	buildlog | grep -qx found3=three
	[ ! -e "$A" ] && [ ! -e "$B" ] && [ ! -e "$C" ]
}

@test "sandbox: a cache path in /proc is refused" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo never
cache:
  paths:
    - /proc/slipway-test/**/*
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 111 ]
	buildlog | grep -q "cannot set up the sandbox: cannot mount at '/proc/slipway-test'"
	! buildlog | grep -qx never || false
}

@test "sandbox: --cpu-time stops a busy loop with a line naming the limit" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - while :; do :; done
  post_build:
    commands:
      - echo post-ran
EOF
	start=$SECONDS
	sw_build --isolation sandbox --cpu-time 1 --timeout 2m
	[ "$status" -eq 1 ]
	[ $((SECONDS - start)) -lt 30 ]
	[ "$(phase_status BUILD)" = FAILED ]
	buildlog | grep -q "cpu time by RLIMIT_CPU per process"
	buildlog | grep -q "Sandbox limits: the cpu time limit (1 s per process, RLIMIT_CPU) killed a command with SIGXCPU in phase BUILD"
	[[ "$output" == *"a command reached the cpu time limit (--cpu-time 1)"* ]]
	# another process has a count of its own
	buildlog | grep -qx post-ran
}

@test "sandbox: --isolation auto runs in a sandbox where it can" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "srcdir=$CODEBUILD_SRC_DIR"
EOF
	sw_build --isolation auto
	[ "$status" -eq 0 ]
	buildlog | grep -q "^srcdir=/codebuild/output/src"
}

@test "sandbox: the options are checked" {
	run "$SLIPWAY" build "$PROJ" --isolation jail
	[ "$status" -eq 2 ]
	[[ "$output" == *"--isolation must be dir, sandbox or auto"* ]]
	run "$SLIPWAY" build "$PROJ" --pids 10
	[ "$status" -eq 2 ]
	[[ "$output" == *"need --isolation sandbox"* ]]
	run "$SLIPWAY" build "$PROJ" --isolation sandbox --memory lots
	[ "$status" -eq 2 ]
	run "$SLIPWAY" build "$PROJ" --cpu-time 10
	[ "$status" -eq 2 ]
	[[ "$output" == *"need --isolation sandbox"* ]]
	run "$SLIPWAY" build "$PROJ" --isolation sandbox --cpu-time 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--cpu-time must be a positive number of seconds"* ]]
}

@test "sandbox: no host disks in /dev, /proc/sys read-only, no remount" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo x >/dev/null && echo devnull-ok
      - echo "disks=$(ls /dev | grep -cE '^(sd|vd|nvme|xvd|loop|dm-)')"
      - echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || echo procsys-ro
      - mount -o remount,rw / 2>/dev/null || echo remount-denied
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	buildlog | grep -qx devnull-ok
	buildlog | grep -qx disks=0
	buildlog | grep -qx procsys-ro
	buildlog | grep -qx remount-denied
}

@test "sandbox: the seccomp filter refuses new namespaces, threads and forks still work" {
	# outside, as root, unshare works: the refusal below is the filter's
	unshare -U true
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - unshare -U true 2>&1 || echo userns-denied
      - unshare -m true 2>&1 || echo mountns-denied
      - unshare -n true 2>&1 || echo netns-denied
      - seq 200000 | sort -n -r --parallel=4 -S 1M | head -1
      - (echo in-a-fork) & wait
EOF
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	buildlog | grep -qx userns-denied
	buildlog | grep -qx mountns-denied
	buildlog | grep -qx netns-denied
	buildlog | grep -q "unshare failed: Operation not permitted"
	buildlog | grep -qx 200000
	buildlog | grep -qx in-a-fork
}

@test "sandbox: commands have no terminal to type into, even when slipway has one" {
	command -v script >/dev/null || skip "script (util-linux) is needed"
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - 'if ( true </dev/tty ) 2>/dev/null; then echo tty-open; else echo no-tty; fi'
EOF
	run script -qec "$SLIPWAY build $PROJ --state-dir $STATE \
		--report $REPORT --isolation sandbox" /dev/null
	[ "$status" -eq 0 ]
	buildlog | grep -qx no-tty
}

@test "sandbox: without namespaces, sandbox exits 111 and auto falls back to dir" {
	command -v setpriv >/dev/null || skip "setpriv is needed"
	d=$(mktemp -d /tmp/sandbox-e2e.XXXXXX)
	mkdir -p "$d/p"
	printf 'version: 0.2\nphases:\n  build:\n    commands:\n      - echo "srcdir=$CODEBUILD_SRC_DIR"\n' >"$d/p/buildspec.yml"
	chmod -R a+rwX "$d"
	as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	}
	run as_nobody "$SLIPWAY" build "$d/p" --state-dir "$d/s" -q \
		--isolation sandbox
	sandbox_status=$status
	sandbox_output=$output
	run as_nobody "$SLIPWAY" build "$d/p" --state-dir "$d/s" \
		--isolation auto
	rm -rf "$d"
	[ "$sandbox_status" -eq 111 ]
	[ "$(printf '%s\n' "$sandbox_output" | wc -l)" -eq 1 ]
	[[ "$sandbox_output" == *"namespaces are unavailable"* ]]
	[ "$status" -eq 0 ]
	[[ "$output" == *"no sandbox ("*"); isolation is dir"* ]]
	[[ "$output" != *"srcdir=/codebuild"* ]]
}

@test "sandbox: the Jest parallel-test shape, codebuild-glob-search inside codebuild-tests-run" {
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - codebuild-tests-run --test-command 'echo jest' --files-search "codebuild-glob-search '**/__tests__/*.js'"
EOF2
	mkdir -p "$PROJ/src/__tests__"
	touch "$PROJ/src/__tests__/a.js" "$PROJ/src/__tests__/b.js"
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	buildlog | grep -qx 'jest src/__tests__/a.js src/__tests__/b.js'
}
