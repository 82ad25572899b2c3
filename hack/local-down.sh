#!/usr/bin/env bash
# Stops the processes hack/local-up.sh started in $LOCAL_DIR (default
# .local/), and nothing else: each PID is checked against the binary it
# recorded. The aggregated server goes first, etcd last.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${LOCAL_DIR:-${ROOT}/.local}"
RUN="${LOCAL_DIR}/run"
[[ -d "${RUN}" ]] || exit 0

stop() { # name [binary]
  local pidfile="${RUN}/$1.pid" pid binary="${2:-$1}"
  [[ -f "${pidfile}" ]] || return 0
  pid="$(cat "${pidfile}")"
  # Only a process running our binary of that name is ours to stop.
  if kill -0 "${pid}" 2>/dev/null && tr '\0' ' ' < "/proc/${pid}/cmdline" 2>/dev/null | grep -q "/bin/${binary} "; then
    kill -TERM "${pid}" 2>/dev/null
    for _ in $(seq 1 150); do
      kill -0 "${pid}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${pid}" 2>/dev/null; then
      echo ">> $1 did not stop in 15s: killing it"
      kill -KILL "${pid}" 2>/dev/null
    fi
    echo ">> stopped $1"
  fi
  rm -f "${pidfile}"
}

stop receiver notification-apiserver
for name in notification-apiserver kube-controller-manager kube-apiserver etcd; do
  stop "${name}"
done
rm -f "${LOCAL_DIR}/env" "${LOCAL_DIR}/receiver-url"
