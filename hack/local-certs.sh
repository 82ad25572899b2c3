#!/usr/bin/env bash
# Makes the PKI of the local control plane in $1 with openssl, once: the
# cluster CA and the front-proxy CA, the serving certificates of
# kube-apiserver and notification-apiserver, the admin and front-proxy
# client certificates, and the service-account key pair.
set -euo pipefail
PKI="$1"
mkdir -p "${PKI}"
cd "${PKI}"
[[ -f done ]] && exit 0

ca() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$1.key" -out "$1.crt" -subj "$2" 2>/dev/null
}
cert() { # name ca subject extensions
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 3650 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "/CN=local-kubernetes-ca"
ca front-proxy-ca "/CN=local-front-proxy-ca"
cert apiserver ca "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1
extendedKeyUsage=serverAuth"
cert notification-apiserver ca "/CN=notification-apiserver" \
  "subjectAltName=DNS:notification-apiserver.notification-system.svc,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
cert admin ca "/O=system:masters/CN=local-admin" "extendedKeyUsage=clientAuth"
cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" "extendedKeyUsage=clientAuth"
openssl genrsa -out sa.key 2048 2>/dev/null
openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
chmod 600 ./*.key
touch done
