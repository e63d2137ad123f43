#!/usr/bin/env bats
# --packaging: zip (default), tar.gz, tar.zst and none hold the same files.

load helpers

setup_artifacts() {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out/sub && echo one > out/a.txt && echo two > out/sub/b.txt
      - head -c 200000 /dev/urandom > out/random.bin
artifacts:
  files:
    - '**/*'
  base-directory: out
  secondary-artifacts:
    extra:
      files:
        - a.txt
      base-directory: out
EOF
}

@test "tar.gz and tar.zst hold the artifact's files and their digests match" {
	setup_artifacts
	for p in tar.gz tar.zst; do
		rm -rf "$T/o"
		sw_build -o "$T/o" --packaging "$p"
		[ "$status" -eq 0 ]
		[ -f "$T/o/artifacts.$p" ]
		[ -f "$T/o/extra.$p" ]
		case $p in
		tar.gz) list=$(tar -tzf "$T/o/artifacts.$p") ;;
		tar.zst) list=$(tar --zstd -tf "$T/o/artifacts.$p") ;;
		esac
		[[ "$list" == *"a.txt"* ]]
		[[ "$list" == *"sub/b.txt"* ]]
		[[ "$list" == *"random.bin"* ]]
		[ "$(rj .artifacts.sha256sum)" = "$(sha256sum <"$T/o/artifacts.$p" | cut -d' ' -f1)" ]
		[ "$(rj .artifacts.packaging)" = "$p" ]
		! ls "$T/o" | grep -q tmp || false
	done
}

@test "none writes plain trees, replacing an older one whole" {
	setup_artifacts
	mkdir -p "$T/o/artifacts"
	echo stale >"$T/o/artifacts/stale.txt"
	sw_build -o "$T/o" --packaging none
	[ "$status" -eq 0 ]
	[ "$(cat "$T/o/artifacts/a.txt")" = one ]
	[ "$(cat "$T/o/artifacts/sub/b.txt")" = two ]
	[ ! -e "$T/o/artifacts/stale.txt" ]
	[ "$(cat "$T/o/extra/a.txt")" = one ]
	[ ! -e "$T/o/extra/sub" ]
}

@test "zip stores random data and deflates text" {
	setup_artifacts
	sw_build -o "$T/o"
	[ "$status" -eq 0 ]
	unzip -v "$T/o/artifacts.zip" | grep 'random.bin' | grep -q Stored
	# a 4-byte text file is too small to gain from deflate either
	[ "$(unzip -p "$T/o/artifacts.zip" sub/b.txt)" = two ]
}

@test "an unknown --packaging is a usage error" {
	setup_artifacts
	sw_build --packaging rar
	[ "$status" -eq 2 ]
	[[ "$output" == *"--packaging must be zip, tar.gz, tar.zst or none"* ]]
}
