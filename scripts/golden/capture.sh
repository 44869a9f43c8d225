#!/usr/bin/env bash
# Captures golden bytes from a real Kafka: the requests plainkafka and the Java client send and
# the broker's answers, one exchange per (client, API, version), into tests/golden/VERSION/.
# tests/golden.rs checks plainkafka's decoders and encoders against them, so a field laid out
# wrong on both sides (client and MockCluster share one codec) can't go unseen.
#
#   scripts/golden/capture.sh VERSION     # e.g. 4.4.0 or 3.9.1
#
# Starts a single-node Kafka (scripts/kafka/start.sh) that advertises a recording proxy
# (proxy.py), runs plainkafka's CLI and Kafka's console producer and consumer through it, and
# stops both. Not run by CI: the captures are committed.
set -euo pipefail
version=${1:?usage: capture.sh VERSION}
cd "$(dirname "$0")/../.."
root=$(pwd)
out=$root/tests/golden/$version
rm -rf "$out"
mkdir -p "$out"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
kport=$(free_port)
while ! python3 -c "import socket,sys;s=socket.socket();s.bind(('127.0.0.1',$((kport+1))))" 2>/dev/null; do kport=$(free_port); done
pport=$(free_port)
props=$(mktemp)
echo "advertised.listeners=PLAINTEXT://127.0.0.1:$pport" > "$props"
KAFKA_EXTRA_PROPS=$props scripts/kafka/start.sh "$version" "$kport" $$ >&2
python3 scripts/golden/proxy.py "$pport" "$kport" "$out" &
proxy=$!
trap 'kill $proxy 2>/dev/null; kill $(cat target/kafka/run-$version-$kport/pid) 2>/dev/null; rm -f $props' EXIT
sleep 1
cargo build --quiet --features cli
pk() { target/debug/plainkafka -b "127.0.0.1:$pport" "$@"; }
pk create-topic golden --partitions 2
seq 1 20 | sed 's/^/k:v/' | pk produce golden -K :
pk consume golden -g golden-simple --idle-timeout-ms 2000 > /dev/null
pk consume golden -g golden-balanced --balanced --idle-timeout-ms 4000 > /dev/null
pk offsets golden -g golden-simple > /dev/null
pk lag golden -g golden-simple > /dev/null
pk groups > /dev/null
pk group golden-balanced > /dev/null
pk describe golden > /dev/null
pk delete-topic golden
# The Java client: a console producer and a console consumer in a group.
cp="target/kafka/$version/libs/*"
case "$version" in
  3.*) producer=kafka.tools.ConsoleProducer ;;
  *) producer=org.apache.kafka.tools.ConsoleProducer ;;
esac
seq 1 20 | java -Xmx256m -cp "$cp" "$producer" --bootstrap-server "127.0.0.1:$pport" --topic golden-java > /dev/null
java -Xmx256m -cp "$cp" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "127.0.0.1:$pport" \
  --topic golden-java --group golden-java --from-beginning --timeout-ms 8000 > /dev/null 2>&1 || true
sleep 1
ls "$out" | wc -l
