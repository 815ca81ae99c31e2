#!/usr/bin/env bash
# Copies the pinned official STIX 2.1 JSON schemas and their LICENSE into
# stixschemas/ (where the Go package embeds them) and verifies every
# file against stixschemas/SHA256SUMS.
#
# Source, in order: $STIX_SRC; ../shared/stix/cti-stix2-json-schemas (next to
# the repository); otherwise a tarball of the pinned commit from GitHub.
# Quiet and idempotent: when the files are already there and verified it only
# prints "stix schemas: N files verified".
set -euo pipefail

readonly commit=3bf9e69dc18dbbe995676c5dde027ead76e2b6fa
readonly upstream=https://github.com/oasis-open/cti-stix2-json-schemas

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$root/stixschemas
sums=$dest/SHA256SUMS
count=$(grep -c . "$sums")

# fail prints what went wrong, then the fix, and stops.
fail() {
  printf 'stix schemas: %s\n' "$1" >&2
  shift
  printf '  %s\n' "$@" >&2
  exit 1
}

# verified DIR: true when every file listed in SHA256SUMS is in DIR with the
# pinned content (and, for the destination, the embedded LICENSE copy too).
verified() {
  (cd "$1" && sha256sum --check --quiet --status "$sums") 2>/dev/null
}

dest_ok() {
  verified "$dest" && cmp -s "$dest/LICENSE" "$dest/schemas/LICENSE"
}

if dest_ok; then
  echo "stix schemas: $count files verified"
  exit 0
fi

tmp=""
cleanup() { if [ -n "$tmp" ]; then rm -rf "$tmp"; fi; }
trap cleanup EXIT

src=${STIX_SRC:-}
if [ -z "$src" ] && [ -d "$root/../shared/stix/cti-stix2-json-schemas" ]; then
  src=$root/../shared/stix/cti-stix2-json-schemas
fi
if [ -z "$src" ]; then
  command -v curl >/dev/null || fail "curl is needed to download $upstream at $commit" \
    "fix: install curl, or set STIX_SRC to a checkout of that commit"
  tmp=$(mktemp -d)
  echo "stix schemas: downloading $upstream at $commit" >&2
  { curl -fsSL --retry 3 -o "$tmp/src.tar.gz" "$upstream/archive/$commit.tar.gz" &&
    tar -xzf "$tmp/src.tar.gz" -C "$tmp"; } ||
    fail "download of $upstream/archive/$commit.tar.gz failed" \
      "fix: check the network, or set STIX_SRC to a checkout of that commit"
  src=$tmp/cti-stix2-json-schemas-$commit
fi
[ -d "$src/schemas" ] && [ -f "$src/LICENSE" ] ||
  fail "$src has no schemas/ folder or no LICENSE" \
    "fix: set STIX_SRC to a checkout of $upstream at commit $commit"

# Check the source first, so that a wrong tree is never copied or embedded.
if ! verified "$src"; then
  echo "stix schemas: files in $src that do not match the pin:" >&2
  (cd "$src" && sha256sum --check --quiet "$sums") >&2 || true
  fail "$src is not $upstream at commit $commit" \
    "fix: restore that folder, or set STIX_SRC to a checkout of that commit," \
    "then run 'make schemas' again"
fi

echo "stix schemas: copying from $src" >&2
# Replace the copied tree (keeping the committed placeholder) with exactly the
# pinned files; LICENSE goes next to the package and inside the embedded tree.
mkdir -p "$dest/schemas"
find "$dest/schemas" -mindepth 1 ! -name .keep -delete
while read -r _ path; do
  path=${path#./}
  mkdir -p "$(dirname "$dest/$path")"
  cp "$src/$path" "$dest/$path"
done <"$sums"
cp "$src/LICENSE" "$dest/schemas/LICENSE"

dest_ok || fail "the copy in $dest does not verify against $sums" \
  "check the disk and permissions, then run 'make schemas' again"
echo "stix schemas: $count files verified"
