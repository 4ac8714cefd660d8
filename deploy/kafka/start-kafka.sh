#!/bin/bash
# Starts one combined broker/controller of the cluster from server.properties:
#   KAFKA_NODE_ID         node id (default: the number at the end of the host name)
#   KAFKA_ADVERTISED_HOST the name clients and peers reach this node by (default: hostname -f)
#   KAFKA_QUORUM_VOTERS   id@host:9093,... of the three controllers
#   CLUSTER_ID            the cluster's id (kafka-storage.sh random-uuid), the same on all nodes
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NODE_ID="${KAFKA_NODE_ID:-$(hostname | sed -E 's/.*-([0-9]+)$/\1/')}"
HOST="${KAFKA_ADVERTISED_HOST:-$(hostname -f)}"
: "${KAFKA_QUORUM_VOTERS:?set KAFKA_QUORUM_VOTERS}"
: "${CLUSTER_ID:?set CLUSTER_ID}"
CONFIG="${KAFKA_RENDERED_CONFIG:-/tmp/server.properties}"

sed -e "s|@NODE_ID@|${NODE_ID}|g" -e "s|@HOST@|${HOST}|g" \
    -e "s|@VOTERS@|${KAFKA_QUORUM_VOTERS}|g" "${HERE}/server.properties" > "${CONFIG}"
/opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID}" --config "${CONFIG}" \
    --ignore-formatted
exec /opt/kafka/bin/kafka-server-start.sh "${CONFIG}"
