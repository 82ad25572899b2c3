#!/usr/bin/env bash
# Fails when the generated code is not what hack/update-codegen.sh writes
# for the current API types. It regenerates into a copy of the tree and
# compares, so the work tree is never touched.
set -o errexit -o nounset -o pipefail

SCRIPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

# Copy the module (without build outputs and local state) and regenerate there.
tar -C "${SCRIPT_ROOT}" --exclude=./bin --exclude=./.local --exclude=./.git --exclude=./hack/tools -cf - . | tar -C "${TMP}" -xf -
"${TMP}/hack/update-codegen.sh" >/dev/null

status=0
for dir in pkg/generated pkg/apis hack/api-rules-violations.list; do
  if ! diff -Naupr "${SCRIPT_ROOT}/${dir}" "${TMP}/${dir}"; then
    status=1
  fi
done
if [[ ${status} -ne 0 ]]; then
  echo "generated code is out of date: run hack/update-codegen.sh" >&2
  exit 1
fi
echo "generated code is up to date"
