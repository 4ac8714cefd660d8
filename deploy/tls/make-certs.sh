#!/bin/sh
# A private CA, the brokers' certificate and the admin's client certificate, as PEM files
# Kafka reads directly (ssl.keystore.type=PEM): deploy/tls/out/{ca,broker,admin}.pem.
# Clients (hub, connectors) only need ca.pem. Re-run to renew; keep ca.key offline.
#   sh deploy/tls/make-certs.sh [namespace]
# TLS_OUT_DIR writes them elsewhere (the tests' TLS broker on loopback uses that).
# The broker certificate also names *.${KAFKA_EXTERNAL_DOMAIN} (default
# hub.example-consortium.cn), the names member sites reach the EXTERNAL listener by, and
# KAFKA_EXTERNAL_SANS if set (more subjectAltName entries, e.g. DNS:kafka.hub.example.cn).
set -eu
NAMESPACE="${1:-consortium-hub}"
OUT="${TLS_OUT_DIR:-$(cd "$(dirname "$0")" && pwd)/out}"
DAYS=825
mkdir -p "$OUT"
cd "$OUT"

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 \
    -subj "/CN=consortium-hub-kafka-ca" -keyout ca.key -out ca.pem
fi

issue() {  # name, subjectAltName
  openssl req -newkey rsa:3072 -nodes -sha256 -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
    -days "$DAYS" -extfile "$1.ext" -out "$1.crt"
  # Kafka's PEM key store: an unencrypted PKCS#8 key, then the certificate chain.
  openssl pkcs8 -topk8 -nocrypt -in "$1.key" -out "$1.pk8"
  cat "$1.pk8" "$1.crt" ca.pem > "$1.pem"
  rm -f "$1.csr" "$1.ext" "$1.key" "$1.pk8"
}

SVC="kafka.${NAMESPACE}.svc"
EXTERNAL="DNS:*.${KAFKA_EXTERNAL_DOMAIN:-hub.example-consortium.cn}${KAFKA_EXTERNAL_SANS:+,${KAFKA_EXTERNAL_SANS}}"
issue broker "${EXTERNAL},DNS:kafka-1,DNS:kafka-2,DNS:kafka-3,DNS:*.${SVC},DNS:*.${SVC}.cluster.local,DNS:kafka-bootstrap.${NAMESPACE}.svc,DNS:kafka-bootstrap.${NAMESPACE}.svc.cluster.local,DNS:localhost"
issue admin "DNS:admin"
chmod 0644 ca.pem broker.pem admin.pem   # read by the containers' own users
chmod 0600 ca.key
echo "wrote $OUT/ca.pem, broker.pem, admin.pem"
