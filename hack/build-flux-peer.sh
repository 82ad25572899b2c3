#!/usr/bin/env bash
# Builds Flux's notification-controller (the version pinned in
# hack/fluxpeer/go.mod) into bin/flux-notification-controller, with its
# CustomResourceDefinitions beside it in bin/flux-notification-controller.crds/:
# make bench runs it as the fire-and-forget peer of our delivery path, in
# the same run. Everything comes from the Go module proxy. A binary built
# from the same hack/fluxpeer/go.sum is reused.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
OUT="${BIN}/flux-notification-controller"
mkdir -p "${BIN}"
cd "${ROOT}/hack/fluxpeer"

STAMP="$(sha256sum go.mod go.sum | sha256sum | cut -c1-16)"
if [[ -x "${OUT}" && -d "${OUT}.crds" && "$(cat "${BIN}/.flux-notification-controller.stamp" 2>/dev/null)" == "${STAMP}" ]]; then
  exit 0
fi
echo ">> building bin/flux-notification-controller (Flux's peer for make bench; the first build takes several minutes)"
start=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "${OUT}" github.com/fluxcd/notification-controller
src="$(go list -m -f '{{.Dir}}' github.com/fluxcd/notification-controller)"
rm -rf "${OUT}.crds"
mkdir -p "${OUT}.crds"
cp "${src}"/config/crd/bases/*.yaml "${OUT}.crds/"
chmod -R u+w "${OUT}.crds"
echo "${STAMP}" > "${BIN}/.flux-notification-controller.stamp"
echo ">> bin/flux-notification-controller built in $(( $(date +%s) - start ))s"
