#!/bin/bash
# Starts one combined broker/controller of the cluster from server.properties:
#   KAFKA_NODE_ID         node id (default: the number at the end of the host name)
#   KAFKA_ADVERTISED_HOST the name clients and peers reach this node by (default: hostname -f)
#   KAFKA_QUORUM_VOTERS   id@host:9093,... of the three controllers
#   CLUSTER_ID            the cluster's id (kafka-storage.sh random-uuid), the same on all nodes
#   KAFKA_EXTERNAL_HOST   the name member sites reach this node by (EXTERNAL listener);
#                         in it, {id} is replaced by the node id (kafka-{id}.hub.example.cn)
#   KAFKA_EXTERNAL_PORT   the port they reach it on (default 19094, the port it listens on);
#                         in it, {id} is replaced by the node id (3109{id}: a NodePort each)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
NODE_ID="${KAFKA_NODE_ID:-$(hostname | sed -E 's/.*-([0-9]+)$/\1/')}"
HOST="${KAFKA_ADVERTISED_HOST:-$(hostname -f)}"
: "${KAFKA_QUORUM_VOTERS:?set KAFKA_QUORUM_VOTERS}"
: "${CLUSTER_ID:?set CLUSTER_ID}"
: "${KAFKA_EXTERNAL_HOST:?set KAFKA_EXTERNAL_HOST (the name member sites resolve)}"
EXTERNAL_HOST="${KAFKA_EXTERNAL_HOST//\{id\}/${NODE_ID}}"
EXTERNAL_PORT="${KAFKA_EXTERNAL_PORT:-19094}"
EXTERNAL_PORT="${EXTERNAL_PORT//\{id\}/${NODE_ID}}"
CONFIG="${KAFKA_RENDERED_CONFIG:-/tmp/server.properties}"

sed -e "s|@NODE_ID@|${NODE_ID}|g" -e "s|@HOST@|${HOST}|g" \
    -e "s|@VOTERS@|${KAFKA_QUORUM_VOTERS}|g" -e "s|@EXTERNAL_HOST@|${EXTERNAL_HOST}|g" \
    -e "s|@EXTERNAL_PORT@|${EXTERNAL_PORT}|g" "${HERE}/server.properties" > "${CONFIG}"
/opt/kafka/bin/kafka-storage.sh format --cluster-id "${CLUSTER_ID}" --config "${CONFIG}" \
    --ignore-formatted
exec /opt/kafka/bin/kafka-server-start.sh "${CONFIG}"
