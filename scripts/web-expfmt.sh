#!/bin/sh
# Parses a live /metrics scrape with Prometheus's own parser (expfmt),
# using a scratch copy of go.mod so the repository's go.mod and go.sum stay
# untouched until they list github.com/prometheus/common's dependencies.
set -eu
GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp go.mod go.sum "$tmp/"
$GO get -modfile="$tmp/go.mod" github.com/prometheus/common/expfmt@v0.72.0
$GO test -modfile="$tmp/go.mod" -tags expfmt -run TestExpfmtParses -count=1 ./web/metrics/
