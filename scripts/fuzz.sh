#!/usr/bin/env bash
# Runs every Go fuzz target of the module for the given time each (default 5s).
# Each target runs alone (go test -fuzz takes one target at a time).
#
# Go 1.26's fuzzing coordinator can report "context deadline exceeded" at the
# end of -fuzztime with no failing input (golang/go#75804, fixed in Go 1.27):
# a target that fails that way, writing no input to testdata/fuzz, is run once
# more; a failure that writes an input, or a second failure, fails the run.
set -euo pipefail
fuzztime=${1:-5s}
found=0
run_target() { # pkg target -> exit status of go test; output to stdout and $log
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" "$1" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}
inputs() { # files in a target's corpus directory, 0 when it has none
  if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while IFS= read -r file; do
  pkg=./$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    found=$((found + 1))
    echo "fuzz: $pkg $target for $fuzztime"
    corpus="$(dirname "$file")/testdata/fuzz/$target"
    before=$(inputs "$corpus")
    if ! run_target "$pkg" "$target"; then
      after=$(inputs "$corpus")
      if [ "$after" -eq "$before" ] && grep -q 'context deadline exceeded' "$log"; then
        echo "fuzz: $target stopped on Go's fuzztime race (golang/go#75804), no failing input; running it again"
        run_target "$pkg" "$target"
      else
        exit 1
      fi
    fi
  done
done < <(git ls-files --cached --others --exclude-standard -- '*_test.go' | xargs grep -l '^func Fuzz' 2>/dev/null || true)
echo "fuzz: $found targets ran without a finding"
