#!/usr/bin/env bash
# The main job: the PyKafka guide's three consumers against a real Apache Kafka.
# Uses $KAFKA_BROKERS when set; otherwise starts a local single-node Kafka 4.x (its jars are
# fetched with Maven into target/ on first use) and stops it when this script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${KAFKA_BROKERS:-}" ]; then
  port=39092
  scripts/kafka/start.sh 4.4.0 "$port" $$ >&2
  export KAFKA_BROKERS=127.0.0.1:$port
fi
cargo run --quiet --example quickstart -- "$KAFKA_BROKERS"
