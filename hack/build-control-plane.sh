#!/usr/bin/env bash
# Builds the local control plane's binaries into bin/ from the Go module
# proxy: etcd (embedded etcd server), kube-apiserver and
# kube-controller-manager from k8s.io/kubernetes v1.37.2 (module hack/tools).
# A binary already built from the same hack/tools/go.sum is reused.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
mkdir -p "${BIN}"
cd "${ROOT}/hack/tools"

KUBE_VERSION=v1.37.2
STAMP="$(sha256sum go.mod go.sum kube-apiserver/main.go kube-controller-manager/main.go etcd/main.go | sha256sum | cut -c1-16)"
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean"

for cmd in etcd kube-apiserver kube-controller-manager; do
  if [[ -x "${BIN}/${cmd}" && "$(cat "${BIN}/.${cmd}.stamp" 2>/dev/null)" == "${STAMP}" ]]; then
    continue
  fi
  echo ">> building bin/${cmd} (the first build of kube-apiserver takes about 8 minutes on 2 cores)"
  start=$(date +%s)
  go build -ldflags "${LDFLAGS}" -o "${BIN}/${cmd}" "./${cmd}"
  echo "${STAMP}" > "${BIN}/.${cmd}.stamp"
  echo ">> bin/${cmd} built in $(( $(date +%s) - start ))s"
done
