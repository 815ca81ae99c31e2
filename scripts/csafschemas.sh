#!/usr/bin/env bash
# Copies the pinned CSAF 2.0 material (the OASIS schemas with the FIRST CVSS
# schemas they reference, the OASIS examples and conformance test data, and
# CISA's ICSMA advisories) into csafschemas/csaf/ and verifies every file
# against csafschemas/SHA256SUMS. The Go package csafschemas embeds the
# schemas; the tests of package csaf read the rest from there.
#
# Source: $CSAF_SRC, otherwise ../shared/csaf next to the repository (its
# README.md names the upstream repositories and commits). Quiet and
# idempotent: when the files are already there and verified it only prints
# "csaf schemas: N files verified".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$root/csafschemas/csaf
sums=$root/csafschemas/SHA256SUMS
count=$(grep -c . "$sums")

# fail prints what went wrong, then the fix, and stops.
fail() {
  printf 'csaf schemas: %s\n' "$1" >&2
  shift
  printf '  %s\n' "$@" >&2
  exit 1
}

# verified DIR: true when every file listed in SHA256SUMS is in DIR with the
# pinned content.
verified() {
  (cd "$1" && sha256sum --check --quiet --status "$sums") 2>/dev/null
}

if verified "$dest"; then
  echo "csaf schemas: $count files verified"
  exit 0
fi

src=${CSAF_SRC:-}
if [ -z "$src" ] && [ -d "$root/../shared/csaf" ]; then
  src=$root/../shared/csaf
fi
[ -n "$src" ] && [ -d "$src/csaf_2.0/json_schema" ] ||
  fail "no source for the pinned CSAF 2.0 files (${src:-../shared/csaf is not beside the repository})" \
    "fix: put shared/ beside the checkout, or set CSAF_SRC to a folder laid out as ../shared/csaf"

# Check the source first, so that a wrong tree is never copied or embedded.
if ! verified "$src"; then
  echo "csaf schemas: files in $src that do not match the pin:" >&2
  (cd "$src" && sha256sum --check --quiet "$sums") >&2 || true
  fail "$src does not match csafschemas/SHA256SUMS" \
    "fix: restore that folder, or set CSAF_SRC to a copy that matches, then run 'make schemas' again"
fi

echo "csaf schemas: copying from $src" >&2
# Replace the copied tree (keeping the committed placeholders) with exactly
# the pinned files.
mkdir -p "$dest"
find "$dest" -mindepth 1 -type f ! -name .keep -delete
while read -r _ path; do
  path=${path#./}
  mkdir -p "$(dirname "$dest/$path")"
  cp "$src/$path" "$dest/$path"
done <"$sums"

verified "$dest" || fail "the copy in $dest does not verify against $sums" \
  "check the disk and permissions, then run 'make schemas' again"
echo "csaf schemas: $count files verified"
