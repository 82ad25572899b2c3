#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine of this
# kind (Go comes with it): openssl, curl, python3, protoc (for
# hack/update-codegen.sh's protobuf step), and Prometheus Alertmanager as a
# real receiver for the tests; kubectl comes with the machine. Only what is
# missing is installed.
set -euo pipefail
missing=()
for cmd in openssl curl python3 setsid base64 protoc prometheus-alertmanager; do
  command -v "${cmd}" >/dev/null 2>&1 || missing+=("${cmd}")
done
if (( ${#missing[@]} > 0 )); then
  pkgs=()
  for cmd in "${missing[@]}"; do
    case "${cmd}" in
      setsid) pkgs+=(util-linux) ;;
      base64) pkgs+=(coreutils) ;;
      python3) pkgs+=(python3-minimal) ;;
      protoc) pkgs+=(protobuf-compiler) ;;
      *) pkgs+=("${cmd}") ;;
    esac
  done
  echo ">> installing ${pkgs[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO=sudo
  ${SUDO} apt-get update -qq
  DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi
command -v kubectl >/dev/null 2>&1 || { echo "kubectl is missing: it is expected at /usr/bin/kubectl on this kind of machine" >&2; exit 1; }
