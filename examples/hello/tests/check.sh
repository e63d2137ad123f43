#!/bin/sh
# Checks the hello binary given as $1; prints one line per check.
set -eu
bin=$1
out=$("$bin")
[ "$out" = "hello, world!" ] || { echo "FAIL: default greeting: $out"; exit 1; }
echo "ok: default greeting"
out=$("$bin" slipway)
[ "$out" = "hello, slipway!" ] || { echo "FAIL: named greeting: $out"; exit 1; }
echo "ok: named greeting"
out=$("$bin" --version)
[ "$out" = "hello $VERSION" ] || { echo "FAIL: version: $out"; exit 1; }
echo "ok: version $VERSION"
