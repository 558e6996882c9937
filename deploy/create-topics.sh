#!/usr/bin/env bash
# Creates roadpulse's topics on an existing Kafka cluster (2.8 or newer) with
# kafka-topics.sh. Safe to re-run (--if-not-exists). The settings are the
# code's defaults (`roadpulse config topics` prints them; tests/deploy_test.py
# checks that this script agrees):
#   roadpulse.incidents, roadpulse.violations  delete, retention = worker.retention_days (400 d)
#   roadpulse.counts, roadpulse.checkpoints    compact (only the newest record per key matters)
#   roadpulse.dlq                              delete (the cluster's retention)
#
#   BOOTSTRAP=kafka-1:9092 PARTITIONS=12 REPLICATION_FACTOR=3 deploy/create-topics.sh
#   COMMAND_CONFIG=client.properties ...   # SASL/SSL settings for kafka-topics.sh
#
# Partitions bound the parallelism: at most one worker per input partition is
# busy. They can be raised later, never lowered; raising them re-keys inputs
# (a new id may land on another partition), so decide before producing.
set -euo pipefail

BOOTSTRAP=${BOOTSTRAP:-localhost:9092}
PARTITIONS=${PARTITIONS:-8}
REPLICATION_FACTOR=${REPLICATION_FACTOR:-3}
INPUT_RETENTION_MS=${INPUT_RETENTION_MS:-34560000000}   # 400 days
KAFKA_TOPICS=${KAFKA_TOPICS:-kafka-topics.sh}
extra=()
[ -n "${COMMAND_CONFIG:-}" ] && extra=(--command-config "$COMMAND_CONFIG")

create() {  # create TOPIC CONFIG...
  local topic=$1; shift
  local configs=()
  for c in "$@"; do configs+=(--config "$c"); done
  echo "create-topics.sh: $topic (partitions $PARTITIONS, replication $REPLICATION_FACTOR, $*)" >&2
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" "${extra[@]}" --create --if-not-exists \
    --topic "$topic" --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
    "${configs[@]}"
}

create roadpulse.incidents cleanup.policy=delete "retention.ms=$INPUT_RETENTION_MS"
create roadpulse.violations cleanup.policy=delete "retention.ms=$INPUT_RETENTION_MS"
create roadpulse.counts cleanup.policy=compact
create roadpulse.dlq cleanup.policy=delete
create roadpulse.checkpoints cleanup.policy=compact

"$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" "${extra[@]}" --describe --topic 'roadpulse\..*' >&2 || true
