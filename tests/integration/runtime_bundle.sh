#!/bin/sh
# runtime_bundle.sh IMAGE.tar DIR: an OCI bundle at DIR (rootfs/ from the image's layers, and isola-runtime spec's
# config.json, not read-only, with no terminal), for the isola-runtime tests.
set -eu
image=$1 dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xf "$image" -C "$tmp"
manifest=$(jq -r '.manifests[0].digest' "$tmp/index.json" | sed 's|:|/|')
mkdir -p "$dir/rootfs"
for layer in $(jq -r '.layers[].digest' "$tmp/blobs/$manifest" | sed 's|:|/|'); do
  tar -xf "$tmp/blobs/$layer" -C "$dir/rootfs"
done
