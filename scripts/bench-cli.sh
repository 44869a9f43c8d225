#!/usr/bin/env bash
# The command-line benchmark: the tools as a user runs them, each in its own process, wall
# time, CPU and peak RSS from GNU time (process start-up included), runs interleaved, medians:
#  - plainkafka's CLI, kcat (librdkafka) and Kafka's Java perf tools (ProducerPerformance,
#    ConsumerPerformance);
#  - on topics of 1, 64 and 600 partitions;
#  - on one broker, and on a 3-node cluster (KRaft, RF 3, min.insync.replicas 2);
#  - produce: 1,000,000 lines `key:value` (100 B values, 100,000 keys) from a file, each CLI
#    with its defaults (acks=all for both; plainkafka compresses with lz4, kcat and the Java
#    tool don't) and, on one partition, acks=1; then, on one partition, like with like: every
#    client uncompressed, and every client lz4. The Java tool writes 1,000,000 unkeyed records,
#    each one of the first 10,000 values of the input, picked at random. The values are a counter padded with 'x': they compress well, as logs and JSON
#    do, and better;
#  - consume: the same 1,000,000 records, written uncompressed, from the beginning to the end
#    of every partition, values printed to /dev/null (the Java tool only counts them).
# Prints the tables as Markdown, writes them to target/bench/cli.md and the medians to
# target/bench/cli.tsv, and draws scripts/bench-chart.py's SVG into bench.svg (next to the
# README; target/bench/cli-cluster.svg for a cluster-only run).
#
#   scripts/bench-cli.sh [RUNS] [single|cluster|both] [PARTITIONS...]
#                                  (defaults: 3, both, 1 64 600)
#
# kcat is $KCAT, or `kcat` on PATH; scripts/build-kcat.sh builds one from a kcat source tree
# against the librdkafka the rdkafka dev-dependency builds. Without it, kcat's rows are left
# out.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
where=${2:-both}
if [ $# -gt 2 ]; then partitions=("${@:3}"); else partitions=(1 64 600); fi
version=4.4.0
count=1000000
size=100
out=target/bench
mkdir -p "$out"
kcat=${KCAT:-$(command -v kcat || true)}
[ -n "$kcat" ] || echo "no kcat (set KCAT=...): its rows are left out" >&2
if [ ! -x /usr/bin/time ]; then
  apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi
cargo build --quiet --release --features cli --bin plainkafka
pk=target/release/plainkafka
scripts/kafka/start.sh "$version" fetch >&2
cp="target/kafka/$version/libs/*"

# The input: 1,000,000 lines of a 7-byte key, ':' and a 100-byte value.
input=$out/input-$count.txt
if [ ! -s "$input" ]; then
  python3 - "$input" "$count" "$size" <<'PY'
import sys
path, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for i in range(count):
        v = f"{i:08d}"
        f.write(f"k{i % 100000:06d}:{v}{'x' * (size - len(v))}\n")
PY
fi

# The Java perf tool's values: the first 10,000 of the input's.
payload=$out/payload-10000.txt
[ -s "$payload" ] || head -n 10000 "$input" | cut -d: -f2- > "$payload"

# Brokers: one node, or three (every node broker and controller, replicated internal topics).
# The brokers stop when this keeper is gone (start.sh watches it): at exit.
sleep 1000000 &
keeper=$!
trap 'kill $keeper 2>/dev/null || true' EXIT
start_single() {
  scripts/kafka/start.sh "$version" 39292 "$keeper" >&2
  echo 127.0.0.1:39292
}
stop_single() {
  local pid; pid=$(cat "target/kafka/run-$version-39292/pid" 2>/dev/null || true)
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null || true; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; }
}
start_cluster() {
  local id props=$out/cluster.properties voters=""
  id=$(python3 -c 'import base64,uuid;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
  printf '%s\n' default.replication.factor=3 min.insync.replicas=2 offsets.topic.replication.factor=3 \
    transaction.state.log.replication.factor=3 transaction.state.log.min.isr=2 \
    share.coordinator.state.topic.replication.factor=3 share.coordinator.state.topic.min.isr=2 > "$props"
  for n in 1 2 3; do voters+="${voters:+,}$n@127.0.0.1:$((39300 + 2 * n + 1))"; done
  local starting=()
  for n in 1 2 3; do
    KAFKA_NODE_ID=$n KAFKA_VOTERS=$voters KAFKA_CLUSTER_ID=$id KAFKA_HEAP=512m KAFKA_EXTRA_PROPS=$props \
      scripts/kafka/start.sh "$version" $((39300 + 2 * n)) "$keeper" >&2 &
    starting+=($!)
  done
  for p in "${starting[@]}"; do wait "$p"; done
  echo 127.0.0.1:39302,127.0.0.1:39304,127.0.0.1:39306
}

results=$out/cli-runs.tsv
: > "$results"
measure() { # cluster partitions op client, then the command (stdin from $stdin)
  local cluster=$1 parts=$2 op=$3 client=$4; shift 4
  local t; t=$(mktemp)
  if ! /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" < "${stdin:-/dev/null}" > /dev/null 2> "$out/last.err"; then
    echo "FAILED: $cluster $parts $op $client: $*" >&2
    tail -5 "$out/last.err" >&2
    rm -f "$t"
    return 0
  fi
  local wall user sys rss
  read -r wall user sys rss < <(tail -1 "$t")
  rm -f "$t"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$cluster" "$parts" "$op" "$client" "$wall" \
    "$(awk "BEGIN{print $user + $sys}")" "$rss" >> "$results"
}

# Every client writes the input into $prod once (bench's locals: cluster, parts, brokers,
# prod): the case's name, acks, then a codec for all of them (without one, each its default).
produce_all() {
  local op=$1 acks=$2 codec=${3:-}
  stdin=$input measure "$cluster" "$parts" "$op" plainkafka \
    "$pk" -b "$brokers" produce "$prod" -K : --acks "$acks" ${codec:+-z "$codec"}
  if [ -n "$kcat" ]; then
    stdin=$input measure "$cluster" "$parts" "$op" kcat \
      "$kcat" -P -b "$brokers" -t "$prod" -K : -X acks="$acks" ${codec:+-z "$codec"}
  fi
  measure "$cluster" "$parts" "$op" java java -Xmx1g -cp "$cp" \
    org.apache.kafka.tools.ProducerPerformance --topic "$prod" --num-records "$count" \
    --payload-file "$payload" --throughput -1 --producer-props bootstrap.servers="$brokers" acks="$acks" \
    ${codec:+compression.type="$codec"}
}

bench() { # cluster-name brokers
  local cluster=$1 brokers=$2
  for parts in "${partitions[@]}"; do
    local prod=cli-produce-$parts-$RANDOM cons=cli-consume-$parts-$RANDOM
    for t in "$prod" "$cons"; do
      "$pk" -b "$brokers" create-topic "$t" --partitions "$parts" > /dev/null
      # Created is not yet known to every broker: wait until its metadata is served (≤ 60 s).
      for _ in $(seq 1 120); do
        "$pk" -b "$brokers" describe "$t" > /dev/null 2>&1 && break
        sleep 0.5
      done
    done
    # The consumers' topic is filled once; the producers' too, untimed: a topic's first writes
    # (a broker becoming leader of hundreds of new partitions answers NOT_LEADER for seconds)
    # would weigh on whichever client ran first.
    for t in "$cons" "$prod"; do
      "$pk" -b "$brokers" produce "$t" -K : -z none < "$input" 2>/dev/null
    done
    echo "$cluster, $parts partitions: topics ready" >&2
    local acks_runs=("all")
    [ "$parts" = 1 ] && acks_runs+=("1")
    for i in $(seq 1 "$runs"); do
      for acks in "${acks_runs[@]}"; do
        produce_all "produce-acks$acks" "$acks"
      done
      if [ "$parts" = 1 ]; then
        for codec in none lz4; do
          produce_all "produce-$codec" all "$codec"
        done
      fi
      measure "$cluster" "$parts" consume plainkafka "$pk" -b "$brokers" consume "$cons" -o beginning -e
      if [ -n "$kcat" ]; then
        measure "$cluster" "$parts" consume kcat "$kcat" -C -b "$brokers" -t "$cons" -o beginning -e -q
      fi
      measure "$cluster" "$parts" consume java java -Xmx1g -cp "$cp" org.apache.kafka.tools.ConsumerPerformance \
        --bootstrap-server "$brokers" --topic "$cons" --messages "$count" --group "bench-$RANDOM" --hide-header
      echo "$cluster, $parts partitions: run $i done" >&2
    done
    for t in "$prod" "$cons"; do
      "$pk" -b "$brokers" delete-topic "$t" > /dev/null 2>&1 || true
    done
  done
}

case "$where" in
  single | both) bench "one broker" "$(start_single)"; stop_single ;;
esac
case "$where" in
  cluster | both) bench "3 nodes" "$(start_cluster)" ;;
esac
# The README's chart is the single-broker one: a cluster-only run draws its own beside the tables.
svg=bench.svg
[ "$where" = cluster ] && svg=$out/cli-cluster.svg
python3 scripts/bench-chart.py "$results" "$count" "$runs" "$out/cli.tsv" "$svg" | tee "$out/cli.md"
