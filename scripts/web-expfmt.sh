#!/bin/sh
# Parses a live /metrics scrape with Prometheus's own parser (expfmt).
# The same test runs in make test; this runs it alone.
set -eu
GO=${GO:-go}
$GO test -run TestExpfmtParses -count=1 ./web/metrics/
