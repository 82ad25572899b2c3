#!/usr/bin/env bash
# Regenerates everything under pkg/generated/, the zz_generated.*.go files
# of pkg/apis/ with k8s.io/code-generator's kube_codegen.sh, and the
# protobuf encoding of the v1beta2 types (generated.proto, generated.pb.go
# and the protobuf struct tags in types.go) with its go-to-protobuf, at the
# version go.mod pins. go-to-protobuf needs protoc: hack/install-deps.sh
# installs it.
set -o errexit -o nounset -o pipefail

SCRIPT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${SCRIPT_ROOT}"
if [[ -z "${CODEGEN_PKG:-}" ]]; then
  # go list -m names a module's directory only once the module is in the
  # module cache, and on a fresh machine no build has fetched this one.
  go mod download k8s.io/code-generator
  CODEGEN_PKG="$(go list -m -f '{{.Dir}}' k8s.io/code-generator)"
fi
THIS_PKG="github.com/notification-apiserver/notification-apiserver"
BOILERPLATE="${SCRIPT_ROOT}/hack/boilerplate.go.txt"

if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc is missing: go-to-protobuf needs it to generate the protobuf encoding; run hack/install-deps.sh (Debian package protobuf-compiler)" >&2
  exit 1
fi

# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

kube::codegen::gen_helpers \
    --boilerplate "${BOILERPLATE}" \
    "${SCRIPT_ROOT}/pkg/apis"

kube::codegen::gen_openapi \
    --output-dir "${SCRIPT_ROOT}/pkg/generated/openapi" \
    --output-pkg "${THIS_PKG}/pkg/generated/openapi" \
    --report-filename "${SCRIPT_ROOT}/hack/api-rules-violations.list" \
    --update-report \
    --output-model-name-file "zz_generated.model_name.go" \
    --boilerplate "${BOILERPLATE}" \
    "${SCRIPT_ROOT}/pkg/apis"

kube::codegen::gen_client \
    --with-watch \
    --with-applyconfig \
    --applyconfig-openapi-schema <(go run "${THIS_PKG}/pkg/generated/openapi/cmd/models-schema") \
    --output-dir "${SCRIPT_ROOT}/pkg/generated" \
    --output-pkg "${THIS_PKG}/pkg/generated" \
    --boilerplate "${BOILERPLATE}" \
    "${SCRIPT_ROOT}/pkg/apis"

# kube_codegen.sh has no protobuf step in this version, so go-to-protobuf
# runs here as Kubernetes runs it: protoc finds each .proto by its Go import
# path under --output-dir, so that directory is a GOPATH-like tree of
# symlinks to this module, to apimachinery's generated.proto files (only
# referenced: the "-" prefix means "do not generate") and to gogo.proto.
# goimports, which go-to-protobuf runs on generated.pb.go, comes at the
# golang.org/x/tools version go.mod already has.
gen_protobuf() {
    local tmp="$1"

    (
        cd "${CODEGEN_PKG}"
        GOBIN="${tmp}/bin" GO111MODULE=on go install \
            k8s.io/code-generator/cmd/go-to-protobuf \
            k8s.io/code-generator/cmd/go-to-protobuf/protoc-gen-gogo
    )
    GOBIN="${tmp}/bin" go install "golang.org/x/tools/cmd/goimports@$(go list -m -f '{{.Version}}' golang.org/x/tools)"

    local gogo apimachinery
    gogo="$(go -C "${CODEGEN_PKG}" list -m -f '{{.Dir}}' github.com/gogo/protobuf)"
    apimachinery="$(go list -m -f '{{.Dir}}' k8s.io/apimachinery)"
    mkdir -p "${tmp}/src/$(dirname "${THIS_PKG}")" "${tmp}/src/k8s.io" "${tmp}/src/github.com/gogo"
    ln -s "${SCRIPT_ROOT}" "${tmp}/src/${THIS_PKG}"
    ln -s "${apimachinery}" "${tmp}/src/k8s.io/apimachinery"
    ln -s "${gogo}" "${tmp}/src/github.com/gogo/protobuf"

    local referenced=(
        k8s.io/apimachinery/pkg/util/intstr
        k8s.io/apimachinery/pkg/api/resource
        k8s.io/apimachinery/pkg/runtime/schema
        k8s.io/apimachinery/pkg/runtime
        k8s.io/apimachinery/pkg/apis/meta/v1
    )
    PATH="${tmp}/bin:${PATH}" go-to-protobuf \
        --go-header-file "${BOILERPLATE}" \
        --output-dir "${tmp}/src" \
        --proto-import "${gogo}/protobuf" \
        --apimachinery-packages "$(printf -- '-%s,' "${referenced[@]}" | sed 's/,$//')" \
        --packages "${THIS_PKG}/pkg/apis/notification/v1beta2"
}

PROTOBUF_TMP="$(mktemp -d)"
trap 'rm -rf "${PROTOBUF_TMP}"' EXIT
gen_protobuf "${PROTOBUF_TMP}"
