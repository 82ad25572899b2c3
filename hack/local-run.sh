#!/usr/bin/env bash
# `make run`: brings up the local control plane, applies the examples,
# prints how to use it, and stops everything it started on Ctrl-C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LOCAL_DIR="${LOCAL_DIR:-${ROOT}/.local}"
start=$(date +%s)

stop() {
  trap - INT TERM EXIT
  echo
  [[ -n "${sleeper:-}" ]] && kill "${sleeper}" 2>/dev/null
  "${ROOT}/hack/local-down.sh"
  exit 0
}
trap stop INT TERM EXIT

"${ROOT}/hack/local-up.sh"
export KUBECONFIG="${LOCAL_DIR}/kubeconfig"
kubectl apply --server-side -f "${ROOT}/artifacts/examples/"

cat <<MSG

notification-apiserver is up (in $(( $(date +%s) - start ))s), behind a local kube-apiserver.
Logs: ${LOCAL_DIR}/logs/. In another shell:

  export KUBECONFIG=${KUBECONFIG}
  kubectl get providers.notification -A
  kubectl get alerts.notification -A
  kubectl -n flagger-system get provider slack-bot -o yaml
  kubectl explain provider.spec
  kubectl api-resources --api-group=notification.toolkit.fluxcd.io

Press Ctrl-C to stop everything.
MSG
while true; do
  sleep 3600 &
  sleeper=$!
  wait "${sleeper}" || true
done
