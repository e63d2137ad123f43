#!/usr/bin/env bats
# The build cache through `slipway build`: restore before INSTALL, save
# after POST_BUILD, keys, fallbacks, immutability, --no-cache, races and a
# save killed half-way.

load helpers

# A build that makes deps/ when the cache did not bring it.
cache_spec() {
	cat >"$PROJ/buildspec.yml" <<EOF
version: 0.2
phases:
  install:
    commands:
      - 'if [ -f deps/made-by ]; then echo "RESTORED=\$(cat deps/made-by)"; else mkdir -p deps/sub && echo "\$MAKER" > deps/made-by && echo x > deps/sub/f && echo "MADE"; fi'
  post_build:
    commands:
      - echo post
cache:
$1
  paths:
    - deps/**/*
EOF
}

@test "a keyed cache misses, saves, then restores; the key is immutable" {
	cache_spec "  key: deps-\$(cat lock.txt)"
	echo v1 >"$PROJ/lock.txt"
	sw_build -e MAKER=first
	[ "$status" -eq 0 ]
	[[ "$output" == *"MADE"* ]]
	[[ "$output" == *"Saving cache: key deps-v1"* ]]
	[ "$(rj .cache.type)" = LOCAL ]
	sw_build -e MAKER=second
	[ "$status" -eq 0 ]
	[[ "$output" == *"RESTORED=first"* ]]
	[[ "$output" == *"Restoring cache: key deps-v1"* ]]
	[[ "$output" == *"exists and is immutable"* ]]
}

@test "fallback keys match by prefix, in order" {
	cache_spec "  key: deps-\$(cat lock.txt)
  fallback-keys:
    - nothing-
    - deps-"
	echo v1 >"$PROJ/lock.txt"
	sw_build -e MAKER=v1build
	[ "$status" -eq 0 ]
	echo v2 >"$PROJ/lock.txt"
	sw_build -e MAKER=v2build
	[ "$status" -eq 0 ]
	[[ "$output" == *"RESTORED=v1build"* ]]
	[[ "$output" == *"(fallback deps-)"* ]]
	[[ "$output" == *"Saving cache: key deps-v2"* ]]
}

@test "an unkeyed cache is the project's and is replaced at every save" {
	cache_spec ""
	sw_build -e MAKER=one
	[[ "$output" == *"MADE"* ]]
	sw_build -e MAKER=two
	[[ "$output" == *"RESTORED=one"* ]]
	# change the cached file in the build: the next build sees it
	cat >>"$PROJ/buildspec.yml" <<'EOF'
EOF
	sed -i 's|      - echo post|      - echo changed > deps/made-by|' "$PROJ/buildspec.yml"
	sw_build
	sw_build
	[[ "$output" == *"RESTORED=changed"* ]]
}

@test "--no-cache neither restores nor saves; action restore never saves" {
	cache_spec "  key: k1"
	sw_build --no-cache -e MAKER=a
	[[ "$output" == *"Cache disabled by --no-cache"* ]]
	sw_build -e MAKER=b
	[[ "$output" == *"MADE"* ]]
	cache_spec "  key: k2
  action: restore"
	sw_build -e MAKER=c
	sw_build -e MAKER=d
	[[ "$output" == *"MADE"* ]]
	! echo "$output" | grep -q '^RESTORED=' || false
	[[ "$output" == *"Saving cache: skipped"* ]]
}

@test "no save when POST_BUILD did not run" {
	cache_spec "  key: k3"
	sed -i 's|      - echo post|      - echo post|; s|^  install:|  pre_build:\n    commands:\n      - "false"\n  install:|' "$PROJ/buildspec.yml"
	sw_build -e MAKER=a
	[ "$status" -eq 1 ]
	[[ "$output" != *"Saving cache"* ]]
}

@test "codebuild-hash-files is on the build's PATH and keys follow file contents" {
	cache_spec "  key: deps-\$(codebuild-hash-files lock.txt)"
	echo v1 >"$PROJ/lock.txt"
	sw_build -e MAKER=h1
	[ "$status" -eq 0 ]
	key=$(echo "$output" | sed -n 's/.*Saving cache: key \(deps-[0-9a-f]*\).*/\1/p')
	[[ "$key" =~ ^deps-[0-9a-f]{64}$ ]]
	sw_build -e MAKER=h2
	[[ "$output" == *"RESTORED=h1"* ]]
	echo v2 >"$PROJ/lock.txt"
	sw_build -e MAKER=h3
	[[ "$output" == *"MADE"* ]]
	# the same program by its own name
	ln -s "$SLIPWAY" "$T/codebuild-hash-files"
	(cd "$PROJ" && "$T/codebuild-hash-files" lock.txt) | grep -Eq '^[0-9a-f]{64}$'
}

@test "two builds racing on one key leave a consistent cache" {
	cache_spec "  key: race"
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q -e MAKER=r1 3>&- &
	a=$!
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q -e MAKER=r2 3>&- &
	b=$!
	wait $a
	wait $b
	sw_build -e MAKER=r3
	[ "$status" -eq 0 ]
	[[ "$output" == *"RESTORED=r1"* || "$output" == *"RESTORED=r2"* ]]
	[ "$(ls "$STATE"/cache/entries/*/ | grep -c '\.json$')" -eq 1 ]
}

@test "a save killed before its manifest leaves no entry; the next build misses cleanly" {
	cache_spec "  key: killed"
	SLIPWAY_CACHE_TEST_KILL=before-manifest run "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE" -e MAKER=k1
	[ "$status" -eq 137 ]
	sw_build -e MAKER=k2
	[ "$status" -eq 0 ]
	[[ "$output" == *"MADE"* ]]
	[[ "$output" == *"Saving cache: key killed"* ]]
	sw_build -e MAKER=k3
	[[ "$output" == *"RESTORED=k2"* ]]
}

# The buildspec of the report: a build rewrites a restored file in place
# (`echo x > f`, as npm, Maven and pip do).
in_place_spec() {
	cat >"$PROJ/buildspec.yml" <<'YAML'
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands:
      - 'mkdir -p deps; [ -f deps/a ] && cat deps/a'
  build:
    commands:
      - 'echo v$(date +%s%N) > deps/a'
      - '[ -z "$LS" ] || "$SLIPWAY" cache ls --state-dir "$STATE"'
cache:
  key: k1
  paths: ['deps/**/*']
YAML
}

# What `cat deps/a` printed in INSTALL.
cat_output() {
	buildlog | grep -m1 '^v[0-9]'
}

@test "a build writing a restored file in place does not damage the cache" {
	in_place_spec
	sw_build
	[[ "$output" == *"Saving cache: key k1 1 files"* ]]
	obj=$(find "$STATE/cache/objects" -type f)
	[ "$(echo "$obj" | wc -l)" -eq 1 ]
	saved=$(cat "$obj")
	[[ "$saved" == v* ]]
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key k1 1 files 2"?" B by "*"in "* ]]
	[[ "$output" != *"by hard link"* ]]
	[ "$(cat_output)" = "$saved" ]
	[[ "$output" == *"Saving cache: key k1 exists and is immutable"* ]]
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key k1 1 files"* ]]
	[[ "$output" != *"not restored"* ]]
	[ "$(cat_output)" = "$saved" ]
	# the store's object is as build 1 saved it
	[ "$(cat "$obj")" = "$saved" ]
	[ "$(stat -c %a "$obj")" = 444 ]
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[[ "${lines[1]}" == "k1 "*" ok" ]]
}

@test "with hard links a damaged entry shows in cache ls and the next save replaces it" {
	in_place_spec
	export SLIPWAY_CACHE_LINK=link
	sw_build
	[[ "$output" == *"Saving cache: key k1 1 files"* ]]
	# build 2 writes into its hard link: cache ls, run by the build
	# between the write and the save, sees the damage
	sw_build -e LS=1 -e SLIPWAY="$SLIPWAY" -e STATE="$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key k1 1 files "*" by hard link in "* ]]
	[[ "$output" == *"damaged: 1 of 1 objects missing or modified"* ]]
	[[ "$output" == *"Saving cache: key k1 was damaged (1 object missing or modified): replaced, 1 files"* ]]
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *"HEALTH" ]]
	[[ "${lines[1]}" == "k1 "*" ok" ]]
	obj=$(find "$STATE/cache/objects" -type f)
	[ "$(echo "$obj" | wc -l)" -eq 1 ]
	stored=$(cat "$obj")
	# build 3 restores what build 2 wrote, nothing missing
	unset SLIPWAY_CACHE_LINK
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key k1 1 files"* ]]
	[[ "$output" != *"not restored"* ]]
	[ "$(cat_output)" = "$stored" ]
}

@test "a save killed while it writes an object: the next save or cache prune removes its temp file" {
	cat >"$PROJ/buildspec.yml" <<'YAML'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p deps && head -c 3000000 /dev/zero > deps/big
cache:
  key: big
  paths: ['deps/**/*']
YAML
	SLIPWAY_CACHE_TEST_KILL=in-object run "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE"
	[ "$status" -eq 137 ]
	[ "$(find "$STATE/cache/tmp" -type f | wc -l)" -eq 1 ]
	[ "$(find "$STATE/cache/tmp" -type f -size 3000000c | wc -l)" -eq 1 ]
	run "$SLIPWAY" cache prune --max-size 1G --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$output" = "pruned 0 entries, 0 objects, 0 trees, 1 temp files (2.9M): objects 0B -> 0B, trees 0B -> 0B, 2.9M reclaimed" ]
	[ "$(find "$STATE/cache/tmp" -type f | wc -l)" -eq 0 ]

	# killed again; this time the next build's save cleans up
	SLIPWAY_CACHE_TEST_KILL=in-object run "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE"
	[ "$status" -eq 137 ]
	[ "$(find "$STATE/cache/tmp" -type f | wc -l)" -eq 1 ]
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Warning: cache: removed 1 temporary file (2.9 MB) of saves killed before they ended"* ]]
	[[ "$output" == *"Saving cache: key big 1 files"* ]]
	[ "$(find "$STATE/cache/tmp" -type f | wc -l)" -eq 0 ]
}

@test "with hard links a damaged object is stored again by the next build that has its content" {
	cat >"$PROJ/buildspec.yml" <<'YAML'
version: 0.2
phases:
  build:
    commands:
      - 'mkdir -p deps; [ -f deps/a ] || echo stable > deps/a'
cache:
  key: k2
  paths: ['deps/**/*']
YAML
	export SLIPWAY_CACHE_LINK=link
	sw_build
	[[ "$output" == *"Saving cache: key k2 1 files"* ]]
	obj=$(find "$STATE/cache/objects" -type f)
	# the object changes behind the cache's back
	chmod u+w "$obj"
	echo damaged >"$obj"
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[[ "${lines[1]}" == "k2 "*"  damaged: 1 of 1 objects missing or modified" ]]
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"was modified after it was stored: dropped, file not restored"* ]]
	[[ "$output" == *"Saving cache: key k2 exists and is immutable; 1 damaged object stored again"* ]]
	[ "$(cat "$obj")" = stable ]
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[[ "${lines[1]}" == "k2 "*"  ok" ]]
	sw_build
	[[ "$output" == *"Restoring cache: key k2 1 files 7 B by hard link in "* ]]
	[[ "$output" != *"not restored"* ]]
}

@test "cache ls keeps its columns in line whatever the length of a key" {
	local long=deps-$(printf 'x%.0s' $(seq 1 70))
	for k in k1 "$long"; do
		spec <<YAML
version: 0.2
phases:
  build:
    commands:
      - 'mkdir -p deps; echo a > deps/a'
cache:
  key: $k
  paths: ['deps/**/*']
YAML
		sw_build
		[ "$status" -eq 0 ]
	done
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	# every line has VERSION, FILES, SIZE... at the same column: the
	# header's VERSION sits where each entry's version begins
	local col=${lines[0]%%VERSION*}
	[ "${#col}" -eq $((${#long} + 2)) ]
	local l
	for l in "${lines[1]}" "${lines[2]}"; do
		[ "${l:${#col}-2:2}" = "  " ]
		[ "${l:${#col}:1}" != " " ]
		[[ "$l" == *" ok" ]]
	done
	[[ "${lines[1]} ${lines[2]}" == *"$long  "* ]]
}
