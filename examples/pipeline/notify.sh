#!/bin/sh
# A notification target: slipway gives it each event of the pipeline on
# its standard input (one JSON object shaped as CodePipeline's EventBridge
# events); it appends the event to $PIPELINE_EVENTS (default
# ${TMPDIR:-/tmp}/slipway-pipeline-events.jsonl).
out=${PIPELINE_EVENTS:-${TMPDIR:-/tmp}/slipway-pipeline-events.jsonl}
{
	cat
	echo
} | grep -v '^$' >>"$out"
