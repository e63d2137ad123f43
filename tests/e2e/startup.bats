#!/usr/bin/env bats
# Start-up: what every command pays before it does anything.

load helpers

# The libraries loaded only when called (lib/lazylib.h), as a regexp of
# what their files' names contain; libgit2, libarchive, libpq,
# libmicrohttpd and libcrypto have generated stubs on x86-64 only.
# libcrypto is not in LAZY: a build of a directory hashes its source.
LAZY='libcurl|libxml2'
STUBBED=
if [ "$(uname -m)" = x86_64 ]; then
	LAZY="$LAZY|libgit2|libarchive|libpq|libmicrohttpd"
	STUBBED='|libcrypto'
fi

@test "the libraries a command may not need are loaded only when called" {
	command -v readelf >/dev/null || skip "no readelf"
	needed=$(readelf -d "$SLIPWAY" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	echo "$needed"
	[[ "$needed" == *libyaml* ]]
	! grep -E "$LAZY$STUBBED" <<<"$needed" || false
	# a build with a JUnit report loads libxml2 when it reads it
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - printf '<testsuite name="s"><testcase name="ok"/><testcase name="bad"><failure message="m"/></testcase></testsuite>' >r.xml
reports:
  unit:
    files: [r.xml]
EOF2
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Report group unit: 2 tests, 1 passed, 1 failed'
	! buildlog | grep -q 'cannot load' || false
}

@test "a one-command build syncs the report.json, its directory and the build number's data, not the page beside it" {
	command -v strace >/dev/null || skip "no strace"
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - "true"
EOF2
	# LeakSanitizer cannot work under ptrace: an ASan build would exit 1
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		run strace -f -y -e trace=fsync,fdatasync,syncfs,fallocate \
		-o "$T/trace" "$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$(ls "$STATE"/builds/*/report.html | head -n 1)" ]
	# report.json and the build's directory; the build number's data
	# only (the store's own syncs are SQLite's)
	[ "$(grep -c ' fsync(' "$T/trace")" -eq 2 ]
	[ "$(grep -c 'fdatasync(.*next-build-number' "$T/trace")" -eq 1 ]
	grep -q 'fsync(.*report\.json' "$T/trace"
	! grep -q 'fsync(.*report\.html' "$T/trace" || false
	# report.json's space is taken by writing zeros, which delayed
	# allocation places on no block before writeback: cut to its text,
	# it frees none (each freed block waits for a discard where the
	# filesystem is mounted with `discard`); a copy-on-write one
	# (btrfs, zfs...) writes an overwrite to new space, so it has the
	# space fallocated
	case "$(stat -f -c %T "$STATE")" in
	ext2/ext3 | xfs) ! grep -q 'fallocate(' "$T/trace" || false ;;
	*) grep -q 'fallocate(.*report\.json' "$T/trace" ;;
	esac
}

@test "a new store is made whole under a temporary name, synced once, then named" {
	command -v strace >/dev/null || skip "no strace"
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - "true"
EOF2
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		run strace -f -y -e trace=openat,fsync,fdatasync,renameat2,link \
		-o "$T/trace" "$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q
	echo "$output"
	[ "$status" -eq 0 ]
	# the name is opened only once the whole store has it
	named=$(grep -n 'renameat2(.*slipway\.db\.slipway-tmp\.[0-9]*", .*/slipway\.db", RENAME_NOREPLACE) = 0' \
		"$T/trace" | cut -d: -f1)
	opened=$(grep -n 'openat(.*/slipway\.db", ' "$T/trace" | head -n 1 |
		cut -d: -f1)
	[ -n "$named" ] && [ -n "$opened" ]
	[ "$named" -lt "$opened" ]
	# no journal; one sync of the store in all: its temporary file's
	! grep -q 'slipway\.db-journal' "$T/trace" || false
	[ "$(grep -c 'sync(.*slipway\.db' "$T/trace")" -eq 1 ]
	grep -q 'fdatasync(.*slipway\.db\.slipway-tmp\.' "$T/trace"
	# and nothing of it is left beside the store
	! ls -A "$STATE" | grep -q slipway-tmp || false
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c SUCCEEDED)" -eq 1 ]
	# one a killed maker left is a temporary as any other: prune sweeps it
	true &
	dead=$!
	wait "$dead"
	: >"$STATE/.slipway.db.slipway-tmp.$dead"
	run "$SLIPWAY" prune --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ ! -e "$STATE/.slipway.db.slipway-tmp.$dead" ]
	[ -s "$STATE/slipway.db" ]
}

@test "a build opens its store once for its row at the start and at the end" {
	command -v strace >/dev/null || skip "no strace"
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - "true"
EOF2
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		run strace -f -e trace=openat -o "$T/trace" \
		"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'slipway\.db", ' "$T/trace")" -eq 1 ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c SUCCEEDED)" -eq 2 ]
}

@test "a build of a directory maps none of the libraries loaded when called" {
	mkfifo "$T/started" "$T/go"
	spec <<EOF2
version: 0.2
phases:
  build:
    commands:
      - echo started >"$T/started" && read -r line <"$T/go"
EOF2
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q >"$T/out" 2>&1 &
	pid=$!
	# the command runs: slipway has done all but the build's end
	read -r line <"$T/started"
	cp "/proc/$pid/maps" "$T/maps"
	echo go >"$T/go"
	wait "$pid"
	cat "$T/out"
	grep -q libyaml "$T/maps"
	! grep -E "$LAZY|libicu|libkrb5|libgnutls|libldap" "$T/maps" || false
}

@test "a library that cannot be loaded is one error line, and a build that needs none runs" {
	[ "$(uname -m)" = x86_64 ] || skip "libgit2 and libarchive are linked"
	# files that are not libraries, found first by their sonames (which
	# the binary holds, to load them)
	mkdir "$T/lib"
	sonames=$(grep -aoE 'lib(git2|archive|pq|microhttpd)\.so\.[0-9.]*[0-9]' \
		"$SLIPWAY" | sort -u)
	echo "$sonames"
	[ "$(wc -l <<<"$sonames")" -eq 4 ]
	for so in $sonames; do
		echo 'not a library' >"$T/lib/$so"
	done
	git2=$(grep libgit2 <<<"$sonames")
	archive=$(grep libarchive <<<"$sonames")
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo hello >out.txt
EOF2
	LD_LIBRARY_PATH=$T/lib run "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE" -q
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *SUCCEEDED* ]]
	# a zip of artifacts needs libarchive
	cat >>"$PROJ/buildspec.yml" <<'EOF2'
artifacts:
  files: [out.txt]
EOF2
	LD_LIBRARY_PATH=$T/lib run "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE" -q -o "$T/out"
	echo "$output"
	[ "$status" -eq 111 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"FAULT"*"cannot load $archive: $T/lib/$archive: "* ]]
	[ -z "$(ls -A "$T/out")" ]
	# a git repository needs libgit2
	git -C "$PROJ" init -q
	git -C "$PROJ" add -A
	git -C "$PROJ" -c user.name=t -c user.email=t@t commit -qm one
	LD_LIBRARY_PATH=$T/lib run "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE" -q
	echo "$output"
	[ "$status" -eq 111 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"FAILED"*"cannot load $git2: $T/lib/$git2: "* ]]
	# and the library in its place
	run "$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q
	[ "$status" -eq 0 ]
}
