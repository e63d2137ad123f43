#!/bin/sh
# The slipway demo: validate and build examples/hello, list its
# artifacts, and say where the report and the log are.
#
#   examples/demo.sh [SLIPWAY]     (make demo runs it with the built binary)
#
# Everything goes to one new temporary directory, or to $SLIPWAY_DEMO_DIR
# when that is set; the repository is left as it was.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
slipway=${1:-${SLIPWAY:-}}
if [ -z "$slipway" ]; then
	if [ -x "$here/../slipway" ]; then
		slipway=$here/../slipway
	else
		slipway=slipway
	fi
fi
if [ -n "${SLIPWAY_DEMO_DIR:-}" ]; then
	demo=$SLIPWAY_DEMO_DIR
	mkdir -p "$demo"
else
	demo=$(mktemp -d "${TMPDIR:-/tmp}/slipway-demo.XXXXXX")
fi
state=$demo/state
out=$demo/artifacts
report=$demo/report.json

step() {
	printf '\n==> %s\n' "$*"
}

step "slipway validate examples/hello/buildspec.yml"
"$slipway" validate "$here/hello/buildspec.yml"

step "slipway build examples/hello -o $out"
"$slipway" build "$here/hello" --state-dir "$state" -o "$out" \
	--report "$report"

step "artifacts"
for zip in "$out"/*.zip; do
	if command -v unzip >/dev/null 2>&1; then
		unzip -l "$zip"
	else
		ls -l "$zip"
	fi
done

id=$(sed -n 's/^  "id": "\(.*\)",$/\1/p' "$report")
step "slipway show $id"
"$slipway" show "$id" --state-dir "$state"

step "done"
echo "artifacts: $out"
echo "report:    $report"
echo "state:     $state"
