#!/usr/bin/env bash
# Starts a single-node Apache Kafka (KRaft, broker+controller) on loopback for the tests.
#
#   scripts/kafka/start.sh VERSION PORT [WATCH_PID [restart]]
#   scripts/kafka/start.sh VERSION fetch        # only fetch the jars (for Kafka's tools)
#
# Resolves org.apache.kafka:kafka_2.13:VERSION and its dependencies with Maven into
# target/kafka/VERSION/libs (cached), formats a fresh log dir, starts kafka.Kafka in the
# background, waits until it answers on 127.0.0.1:PORT and exits 0. The controller listens on
# PORT+1. With WATCH_PID, the broker is stopped as soon as that process is gone (a test binary
# starts brokers once and cannot run code at exit). With `restart`, the existing log dir of
# that version and port is kept (a broker restarted after a crash). The broker's log is in the
# run dir.
#
# Two environment variables add to a fresh start (the security tests use them):
#   KAFKA_EXTRA_PROPS  a file whose lines are appended to server.properties (later keys win:
#                      extra listeners, TLS keystores, JAAS configs);
#   KAFKA_FORMAT_ARGS  extra StorageTool format arguments, one per line (--add-scram ...).
#
# A node of a multi-node cluster (interop/tests/kafka_cluster.rs) sets these too:
#   KAFKA_NODE_ID      this node's id (default 1);
#   KAFKA_VOTERS       controller.quorum.voters, every node's id@host:controller-port (default
#                      this node alone);
#   KAFKA_CLUSTER_ID   the id every node of the cluster is formatted with (default: a new one);
#   KAFKA_HEAP         the JVM's -Xmx (default 1g).
set -euo pipefail
version=${1:?usage: start.sh VERSION PORT [WATCH_PID]}
port=${2:?usage: start.sh VERSION PORT [WATCH_PID]}
watch_pid=${3:-}
mode=${4:-fresh}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
libs=$root/target/kafka/$version/libs

if [ ! -f "$libs/.complete" ]; then
  mkdir -p "$libs"
  # One download at a time: test binaries may start in parallel.
  exec 9>"$root/target/kafka/.mvn-lock"
  flock 9
  if [ ! -f "$libs/.complete" ]; then
    case "$version" in
      3.*) profile=() ;;
      *) profile=(-Dlog4j2.binding) ;;
    esac
    mvn -q -B -f "$here/pom.xml" -Dkafka.version="$version" "${profile[@]}" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime >&2
    touch "$libs/.complete"
  fi
  flock -u 9
fi

[ "$port" = fetch ] && exit 0

run=$root/target/kafka/run-$version-$port
if [ "$mode" != restart ]; then
  rm -rf "$run"
fi
mkdir -p "$run/data"
cport=$((port + 1))
node_id=${KAFKA_NODE_ID:-1}
voters=${KAFKA_VOTERS:-$node_id@127.0.0.1:$cport}
cluster_id=${KAFKA_CLUSTER_ID:-$(python3 -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')}
[ "$mode" = restart ] || cat > "$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$run/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.flush.interval.messages=100000000
# Tests write messages with fixed timestamps from years ago; time-based retention would delete
# them at the next retention check.
log.retention.ms=-1
PROPS
# Share groups (KIP-932) keep their state in an internal topic whose default replication (3,
# min.isr 2) a single node can't give: nothing would ever be delivered.
if [ "$mode" != restart ] && [ -z "${KAFKA_VOTERS:-}" ] && [[ "$version" != 3.* ]]; then
  printf 'share.coordinator.state.topic.replication.factor=1\nshare.coordinator.state.topic.min.isr=1\n' >> "$run/server.properties"
fi
if [ "$mode" != restart ] && [ -n "${KAFKA_EXTRA_PROPS:-}" ]; then
  cat "$KAFKA_EXTRA_PROPS" >> "$run/server.properties"
fi
format_args=()
if [ -n "${KAFKA_FORMAT_ARGS:-}" ]; then
  mapfile -t format_args <<< "$KAFKA_FORMAT_ARGS"
fi

java_opts=(-Xms256m "-Xmx${KAFKA_HEAP:-1g}" -XX:+UseG1GC -Djava.awt.headless=true "-Dlog4j.configuration=file:$here/log4j.properties" "-Dlog4j2.configurationFile=$here/log4j2.properties")
# --cluster-id=ID in one word: a URL-safe base64 id may start with '-', which a separate
# argument would turn into an unknown option.
[ "$mode" = restart ] || java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
  --cluster-id="$cluster_id" \
  -c "$run/server.properties" "${format_args[@]}" > "$run/format.log" 2>&1 || { cat "$run/format.log" >&2; exit 1; }

# Readiness is read from what this start appends to the log.
seen=$( (wc -l < "$run/broker.log") 2>/dev/null || echo 0)
setsid java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$run/server.properties" \
  >> "$run/broker.log" 2>&1 < /dev/null &
broker=$!
echo "$broker" > "$run/pid"

if [ -n "$watch_pid" ]; then
  setsid bash -c "while kill -0 $watch_pid 2>/dev/null && kill -0 $broker 2>/dev/null; do sleep 1; done; kill $broker 2>/dev/null; sleep 5; kill -9 $broker 2>/dev/null" \
    > /dev/null 2>&1 < /dev/null &
fi

for _ in $(seq 1 600); do
  if ! kill -0 "$broker" 2>/dev/null; then
    echo "kafka $version exited during start-up; log follows" >&2
    tail -50 "$run/broker.log" >&2
    exit 1
  fi
  if tail -n +"$((seen + 1))" "$run/broker.log" 2>/dev/null | grep -q "Kafka Server started"; then
    echo "kafka $version ready on 127.0.0.1:$port (pid $broker)"
    exit 0
  fi
  sleep 0.2
done
echo "kafka $version did not start within 120 s; log follows" >&2
tail -50 "$run/broker.log" >&2
exit 1
