#!/usr/bin/env bash
# Brings up the local control plane and returns once everything is ready:
# etcd (embedded etcd server) -> kube-apiserver with the aggregation layer
# -> kube-controller-manager -> notification-apiserver, registered through
# an APIService. State lives in $LOCAL_DIR (default .local/): pki/, run/
# (PIDs), logs/, the admin kubeconfig at $LOCAL_DIR/kubeconfig and the
# ports in $LOCAL_DIR/env, the event receiver's URL in $LOCAL_DIR/receiver-url. Ports are free ones picked at start unless given
# as ETCD_PORT, KUBE_PORT and NOTIFICATION_PORT; NOTIFICATION_FLAGS adds
# flags to notification-apiserver (e.g. --profiling), RECEIVER_FLAGS to its
# event receiver (e.g. --batch-gather=1ms). The kube-apiserver's etcd keeps
# throwaway data and does not sync its log to disk, unless ETCD_FSYNC=1 (as
# a production etcd, and as notification-apiserver's own etcd always does).
# hack/local-down.sh stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL_DIR="${LOCAL_DIR:-${ROOT}/.local}"
mkdir -p "${LOCAL_DIR}"
LOCAL_DIR="$(cd "${LOCAL_DIR}" && pwd)"
BIN="${ROOT}/bin"
RUN="${LOCAL_DIR}/run"
LOGS="${LOCAL_DIR}/logs"
PKI="${LOCAL_DIR}/pki"
KUBECONFIG_FILE="${LOCAL_DIR}/kubeconfig"
KUBECTL="${KUBECTL:-kubectl}"
NS=notification-system
start_time=$(date +%s)

log() { echo ">> $*"; }
fail() {
  echo "local-up: $*" >&2
  echo "local-up: logs are in ${LOGS}" >&2
  exit 1
}

alive() { # pidfile
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

if alive "${RUN}/notification-apiserver.pid" && [[ -f "${LOCAL_DIR}/env" ]]; then
  log "the local control plane is already running (${LOCAL_DIR}); hack/local-down.sh stops it"
  exit 0
fi
# Whatever is left of an earlier run is stopped and wiped.
LOCAL_DIR="${LOCAL_DIR}" "${ROOT}/hack/local-down.sh" >/dev/null 2>&1 || true
rm -rf "${RUN}" "${LOGS}" "${LOCAL_DIR}/etcd" "${LOCAL_DIR}/notification-etcd" "${LOCAL_DIR}/env"
mkdir -p "${RUN}" "${LOGS}"

command -v openssl >/dev/null || fail "openssl is missing (apt-get install openssl)"
command -v "${KUBECTL}" >/dev/null || fail "kubectl is missing"

log "building"
"${ROOT}/hack/build-control-plane.sh"
"${ROOT}/hack/build.sh"
# A binary the linker has just written sits in the page cache in large
# pages (up to 2 MiB), and the kernel maps such a page whole on the first
# touch of any byte of it: the server's RSS was then 15 MiB higher than
# with the same binary read from disk, as a container reads it, and `make
# bench` measured 91 or 107 MiB idle depending on whether this run had
# linked. Dropping the binary from the page cache makes both the same.
dd of="${BIN}/notification-apiserver" oflag=nocache conv=notrunc,fdatasync count=0 status=none
"${ROOT}/hack/local-certs.sh" "${PKI}"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
ETCD_PORT="${ETCD_PORT:-$(free_port)}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-$(free_port)}"
KUBE_PORT="${KUBE_PORT:-$(free_port)}"
NOTIFICATION_PORT="${NOTIFICATION_PORT:-$(free_port)}"
RECEIVER_PORT="${RECEIVER_PORT:-$(free_port)}"

start() { # name command...
  local name="$1"; shift
  setsid "$@" >"${LOGS}/${name}.log" 2>&1 < /dev/null &
  echo $! > "${RUN}/${name}.pid"
}

wait_for() { # description seconds command...
  local what="$1" secs="$2"; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) > deadline )); then
      fail "${what} not ready after ${secs}s"
    fi
    sleep 0.3
  done
}

log "starting etcd on 127.0.0.1:${ETCD_PORT}"
start etcd "${BIN}/etcd" -data-dir "${LOCAL_DIR}/etcd" -unsafe-no-fsync="$([[ "${ETCD_FSYNC:-}" == 1 ]] && echo false || echo true)" \
  -listen-client-url "http://127.0.0.1:${ETCD_PORT}" -listen-peer-url "http://127.0.0.1:${ETCD_PEER_PORT}"
wait_for etcd 60 curl -sf "http://127.0.0.1:${ETCD_PORT}/health"

log "starting kube-apiserver on 127.0.0.1:${KUBE_PORT}"
printf 'local-admin-token,local-admin,local-admin,system:masters\n' > "${PKI}/tokens.csv"
# --shutdown-send-retry-after: on SIGTERM, close open watches after 2s
# instead of waiting up to the 60s request timeout for them (the e2e
# tests restart it while notification-apiserver and KCM are watching).
start kube-apiserver "${BIN}/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
  --bind-address=127.0.0.1 --secure-port="${KUBE_PORT}" \
  --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
  --service-cluster-ip-range=10.96.0.0/16 \
  --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" \
  --client-ca-file="${PKI}/ca.crt" \
  --token-auth-file="${PKI}/tokens.csv" \
  --authorization-mode=Node,RBAC --anonymous-auth=false \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="${PKI}/sa.pub" --service-account-signing-key-file="${PKI}/sa.key" \
  --requestheader-client-ca-file="${PKI}/front-proxy-ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-uid-headers=X-Remote-Uid --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="${PKI}/front-proxy-client.crt" --proxy-client-key-file="${PKI}/front-proxy-client.key" \
  --enable-aggregator-routing=false \
  --shutdown-send-retry-after=true \
  --profiling=false --v=1

b64() { base64 -w0 < "$1"; }
cat > "${KUBECONFIG_FILE}" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:${KUBE_PORT}
    certificate-authority-data: $(b64 "${PKI}/ca.crt")
users:
- name: local-admin
  user:
    client-certificate-data: $(b64 "${PKI}/admin.crt")
    client-key-data: $(b64 "${PKI}/admin.key")
contexts:
- name: local
  context: {cluster: local, user: local-admin}
current-context: local
KCFG
chmod 600 "${KUBECONFIG_FILE}"
export KUBECONFIG="${KUBECONFIG_FILE}"
wait_for kube-apiserver 120 curl -sf --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
  "https://127.0.0.1:${KUBE_PORT}/readyz"

if [[ -x "${BIN}/kube-controller-manager" && "${WITH_KCM:-1}" != 0 ]]; then
  log "starting kube-controller-manager"
  start kube-controller-manager "${BIN}/kube-controller-manager" \
    --kubeconfig="${KUBECONFIG_FILE}" --authentication-kubeconfig="${KUBECONFIG_FILE}" \
    --authorization-kubeconfig="${KUBECONFIG_FILE}" \
    --bind-address=127.0.0.1 --secure-port=0 --leader-elect=false --use-service-account-credentials=false \
    --service-account-private-key-file="${PKI}/sa.key" --root-ca-file="${PKI}/ca.crt" \
    --controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller \
    --v=1
fi

log "registering notification-apiserver's identity and RBAC"
"${KUBECTL}" apply -f "${ROOT}/artifacts/deploy/namespace.yaml" -f "${ROOT}/artifacts/deploy/serviceaccount.yaml" \
  -f "${ROOT}/artifacts/deploy/rbac.yaml" >/dev/null
TOKEN="$("${KUBECTL}" -n "${NS}" create token notification-apiserver --duration=8760h)"
cat > "${PKI}/notification-apiserver.kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:${KUBE_PORT}
    certificate-authority-data: $(b64 "${PKI}/ca.crt")
users:
- name: notification-apiserver
  user:
    token: ${TOKEN}
contexts:
- name: local
  context: {cluster: local, user: notification-apiserver}
current-context: local
KCFG
chmod 600 "${PKI}/notification-apiserver.kubeconfig"

log "starting notification-apiserver on 127.0.0.1:${NOTIFICATION_PORT}"
SERVER_KUBECONFIG="${PKI}/notification-apiserver.kubeconfig"
start notification-apiserver "${BIN}/notification-apiserver" \
  --bind-address=127.0.0.1 --secure-port="${NOTIFICATION_PORT}" \
  --tls-cert-file="${PKI}/notification-apiserver.crt" --tls-private-key-file="${PKI}/notification-apiserver.key" \
  --kubeconfig="${SERVER_KUBECONFIG}" --authentication-kubeconfig="${SERVER_KUBECONFIG}" \
  --authorization-kubeconfig="${SERVER_KUBECONFIG}" \
  --authorization-webhook-cache-authorized-ttl=1s --authorization-webhook-cache-unauthorized-ttl=1s \
  --embedded-etcd-dir="${LOCAL_DIR}/notification-etcd" \
  --profiling=false --v=1 ${NOTIFICATION_FLAGS:-}
wait_for notification-apiserver 120 curl -sf --cacert "${PKI}/ca.crt" "https://127.0.0.1:${NOTIFICATION_PORT}/readyz"

log "registering the APIService v1beta2.notification.toolkit.fluxcd.io"
"${KUBECTL}" apply -f - >/dev/null <<MANIFEST
# Endpoints cannot hold loopback addresses: an ExternalName Service routes
# the aggregator to the process on 127.0.0.1.
apiVersion: v1
kind: Service
metadata:
  name: notification-apiserver
  namespace: ${NS}
spec:
  type: ExternalName
  externalName: 127.0.0.1
  ports:
  - name: https
    port: ${NOTIFICATION_PORT}
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1beta2.notification.toolkit.fluxcd.io
spec:
  group: notification.toolkit.fluxcd.io
  version: v1beta2
  groupPriorityMinimum: 1000
  versionPriority: 15
  service:
    name: notification-apiserver
    namespace: ${NS}
    port: ${NOTIFICATION_PORT}
  caBundle: $(b64 "${PKI}/ca.crt")
MANIFEST
wait_for "APIService" 120 "${KUBECTL}" wait --for=condition=Available --timeout=2s apiservice/v1beta2.notification.toolkit.fluxcd.io
# Discovery and the aggregated OpenAPI follow Available by about a second.
discovered() {
  "${KUBECTL}" api-resources --api-group=notification.toolkit.fluxcd.io 2>/dev/null | grep -q '^providers' &&
    "${KUBECTL}" get --raw /openapi/v3 | grep -q 'apis/notification.toolkit.fluxcd.io/v1beta2'
}
wait_for "discovery of notification.toolkit.fluxcd.io" 120 discovered

# The receiver is a sidecar of the server: it reaches the server in its own
# pod directly, with its service account token, authenticated and
# authorized by the server as through the kube-apiserver
# (RECEIVER_VIA_AGGREGATOR=1 sends it through the aggregation layer).
receiver_direct=(--api-server="https://127.0.0.1:${NOTIFICATION_PORT}" --api-server-ca-file="${PKI}/ca.crt")
receiver_via="notification-apiserver directly"
if [[ "${RECEIVER_VIA_AGGREGATOR:-0}" == 1 ]]; then
  receiver_direct=()
  receiver_via="the kube-apiserver"
fi
log "starting the event receiver on 127.0.0.1:${RECEIVER_PORT} (storing events through ${receiver_via})"
start receiver "${BIN}/notification-apiserver" receiver --listen="127.0.0.1:${RECEIVER_PORT}" \
  --kubeconfig="${SERVER_KUBECONFIG}" "${receiver_direct[@]}" --v=1 ${RECEIVER_FLAGS:-}
wait_for receiver 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/${RECEIVER_PORT}"
echo "http://127.0.0.1:${RECEIVER_PORT}/" > "${LOCAL_DIR}/receiver-url"

cat > "${LOCAL_DIR}/env" <<ENV
ETCD_PORT=${ETCD_PORT}
KUBE_PORT=${KUBE_PORT}
NOTIFICATION_PORT=${NOTIFICATION_PORT}
RECEIVER_URL=http://127.0.0.1:${RECEIVER_PORT}/
KUBECONFIG=${KUBECONFIG_FILE}
ENV
log "local control plane ready in $(( $(date +%s) - start_time ))s: export KUBECONFIG=${KUBECONFIG_FILE}"
