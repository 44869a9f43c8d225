#!/usr/bin/env bash
# Benchmarks against a local Apache Kafka 4.x, RUNS times each client, interleaved, in one run:
#  - consume: 1,000,000 x 100 B in one partition, read from offset 0 by plainkafka, rdkafka's
#    BaseConsumer (librdkafka) and Kafka's ConsumerPerformance (the Java client);
#  - produce: 1,000,000 x 100 B into one partition, acks=1, linger 5 ms, 1 MB batches, by
#    plainkafka, rdkafka's producer and Kafka's ProducerPerformance: uncompressed, then every
#    client with lz4 (plainkafka's default codec; librdkafka's and Java's is none).
#  - the same consume from plainkafka's MockCluster (`plainkafka mock`, its own process), by
#    plainkafka and rdkafka, next to the consume from Kafka;
#  - the same consume over TLS (Kafka's SSL listener, a certificate made with openssl for the
#    run) by plainkafka, rdkafka and the Java client (only when this script starts Kafka).
# Prints the median messages/s, MB/s, client CPU seconds and peak RSS of each, and ratios.
#
#   scripts/bench.sh [RUNS]        (default 5; uses $KAFKA_BROKERS if set)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
count=1000000
size=100
version=4.4.0
if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (CPU and peak RSS per client)" >&2
  apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
fi
tls_brokers=
if [ -z "${KAFKA_BROKERS:-}" ]; then
  port=39192
  tls_port=$((port + 2))
  # A CA and a broker certificate for this run only, and an SSL listener beside PLAINTEXT.
  tls=$PWD/target/bench-tls
  rm -rf "$tls" && mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=plainkafka bench CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tls/san"
  openssl x509 -req -days 2 -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
    -extfile "$tls/san" -out "$tls/server.crt" 2>/dev/null
  cat "$tls/server.key" "$tls/server.crt" > "$tls/keystore.pem"
  cat > "$tls/broker.properties" <<PROPS
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1)),SSL://127.0.0.1:$tls_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$tls_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$tls/keystore.pem
PROPS
  printf 'security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location=%s\n' "$tls/ca.pem" > "$tls/java.properties"
  KAFKA_EXTRA_PROPS=$tls/broker.properties scripts/kafka/start.sh "$version" "$port" $$ >&2
  KAFKA_BROKERS=127.0.0.1:$port
  tls_brokers=127.0.0.1:$tls_port
  tls_props="security.protocol=SSL;ssl.ca.location=$tls/ca.pem"
fi
cargo build --quiet --release --features cli --bin plainkafka
cargo build --quiet --release -p plainkafka-interop --example bench
bin=target/release/examples/bench
topic=bench-$(date +%s)
"$bin" produce "$KAFKA_BROKERS" "$topic" "$count" "$size"
echo "topic $topic: $count x $size B in partition 0 on Kafka $version ($KAFKA_BROKERS)" >&2

mock_out=$(mktemp)
target/release/plainkafka mock > "$mock_out" 2>/dev/null &
mock_pid=$!
trap 'kill $mock_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$mock_out" ] && break; sleep 0.1; done
[ -s "$mock_out" ] || { echo "plainkafka mock did not start within 10 s" >&2; exit 1; }
mock=$(head -1 "$mock_out")
"$bin" produce "$mock" "$topic" "$count" "$size"
echo "topic $topic: the same on plainkafka's MockCluster ($mock)" >&2

results=$(mktemp)
measure() { # name, command...: one line "name seconds cpu rss_kb"
  local name=$1; shift
  local out t
  t=$(mktemp)
  out=$(/usr/bin/time -f "%U %S %M" -o "$t" "$@" 2>/dev/null)
  read -r user sys rss < "$t"
  rm -f "$t"
  local secs
  case "$name" in
    javaprod|lz4-java) # ProducerPerformance's last line: N records sent, R records/sec (M MB/sec), ...
      secs=$(echo "$out" | awk -v n="$count" '/records sent/ {r=$4} END {printf "%.3f", n/r}') ;;
    java|tls-java) # ConsumerPerformance CSV: start, end, MB, MB/s, nMsg, nMsg/s, rebalance ms, fetch ms (col 8), ...
      secs=$(echo "$out" | awk -F', *' 'NF>=10 && $5 ~ /^[0-9]+$/ {printf "%.3f", $8/1000}') ;;
    *) secs=$(echo "$out" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p') ;;
  esac
  echo "$name $secs $(awk "BEGIN{print $user + $sys}") $rss" >> "$results"
}
cp="target/kafka/$version/libs/*"
# The Java tool's value: the other producers' ($size bytes of 'x'), not its random letters.
payload=target/bench/payload-x$size.txt
mkdir -p target/bench
printf '%*s\n' "$size" '' | tr ' ' x > "$payload"
for i in $(seq 1 "$runs"); do
  measure plainkafka "$bin" plainkafka "$KAFKA_BROKERS" "$topic" "$count"
  measure rdkafka "$bin" rdkafka "$KAFKA_BROKERS" "$topic" "$count"
  measure mock-plainkafka "$bin" plainkafka "$mock" "$topic" "$count"
  measure mock-rdkafka "$bin" rdkafka "$mock" "$topic" "$count"
  measure java java -Xmx1g -cp "$cp" org.apache.kafka.tools.ConsumerPerformance \
    --bootstrap-server "$KAFKA_BROKERS" --topic "$topic" --messages "$count" --group "bench-$i-$RANDOM" --hide-header
  if [ -n "$tls_brokers" ]; then
    measure tls-plainkafka env BENCH_PROPS="$tls_props" "$bin" plainkafka "$tls_brokers" "$topic" "$count"
    measure tls-rdkafka env BENCH_PROPS="$tls_props" "$bin" rdkafka "$tls_brokers" "$topic" "$count"
    measure tls-java java -Xmx1g -cp "$cp" org.apache.kafka.tools.ConsumerPerformance \
      --bootstrap-server "$tls_brokers" --topic "$topic" --messages "$count" --group "bench-tls-$i-$RANDOM" \
      --hide-header --consumer.config "$tls/java.properties"
  fi
  measure produce-plainkafka "$bin" produce-plainkafka "$KAFKA_BROKERS" "$topic-pp-$i" "$count" "$size"
  measure produce-rdkafka "$bin" produce-rdkafka "$KAFKA_BROKERS" "$topic-pr-$i" "$count" "$size"
  measure javaprod java -Xmx1g -cp "$cp" org.apache.kafka.tools.ProducerPerformance \
    --topic "$topic-pj-$i" --num-records "$count" --payload-file "$payload" --throughput -1 \
    --producer-props bootstrap.servers="$KAFKA_BROKERS" acks=1 linger.ms=5 batch.size=1000000
  measure lz4-plainkafka env BENCH_CODEC=lz4 "$bin" produce-plainkafka "$KAFKA_BROKERS" "$topic-zp-$i" "$count" "$size"
  measure lz4-rdkafka env BENCH_CODEC=lz4 "$bin" produce-rdkafka "$KAFKA_BROKERS" "$topic-zr-$i" "$count" "$size"
  measure lz4-java java -Xmx1g -cp "$cp" org.apache.kafka.tools.ProducerPerformance \
    --topic "$topic-zj-$i" --num-records "$count" --payload-file "$payload" --throughput -1 \
    --producer-props bootstrap.servers="$KAFKA_BROKERS" acks=1 linger.ms=5 batch.size=1000000 compression.type=lz4
  echo "run $i done" >&2
done
python3 - "$results" "$count" "$size" "$runs" <<'PY'
import statistics, sys
path, count, size, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = {}
for line in open(path):
    name, secs, cpu, rss = line.split()
    rows.setdefault(name, []).append((float(secs), float(cpu), int(rss)))
med = {n: tuple(statistics.median(x[i] for x in v) for i in range(3)) for n, v in rows.items()}
label = {"plainkafka": "plainkafka", "rdkafka": "rdkafka BaseConsumer", "java": "Kafka ConsumerPerformance",
         "produce-plainkafka": "plainkafka", "produce-rdkafka": "rdkafka producer", "javaprod": "Kafka ProducerPerformance",
         "mock-plainkafka": "plainkafka from the mock", "mock-rdkafka": "rdkafka from the mock",
         "lz4-plainkafka": "plainkafka, lz4", "lz4-rdkafka": "rdkafka producer, lz4", "lz4-java": "Kafka ProducerPerf., lz4",
         "tls-plainkafka": "plainkafka over TLS", "tls-rdkafka": "rdkafka over TLS", "tls-java": "Kafka ConsumerPerf. TLS"}
def table(title, names):
    print(title)
    print(f"{'client':<27}{'msgs/s':>12}{'MB/s':>9}{'wall s':>9}{'CPU s':>8}{'peak RSS MB':>13}")
    for n in names:
        if n not in med:
            continue
        s, c, r = med[n]
        print(f"{label[n]:<27}{count/s:>12,.0f}{count*size/s/1e6:>9.1f}{s:>9.3f}{c:>8.2f}{r/1024:>13.1f}")
    ours, peer = names[0], names[1]
    if ours in med and peer in med:
        p, k = med[ours], med[peer]
        print(f"{label[ours]} vs {label[peer]}: {k[0]/p[0]:.2f}x the rate, {p[1]/k[1]:.2f}x the CPU, {p[2]/k[2]:.2f}x the RSS")
    print()
table(f"consume: {count:,} x {size} B from offset 0, one partition, median of {runs} runs", ["plainkafka", "rdkafka", "java"])
table(f"produce: {count:,} x {size} B to one partition, acks=1, linger 5 ms, 1 MB batches, uncompressed, median of {runs} runs",
      ["produce-plainkafka", "produce-rdkafka", "javaprod"])
table(f"the same produce, every client with lz4, median of {runs} runs", ["lz4-plainkafka", "lz4-rdkafka", "lz4-java"])
table(f"consume over TLS (Kafka's SSL listener): {count:,} x {size} B, median of {runs} runs",
      ["tls-plainkafka", "tls-rdkafka", "tls-java", "plainkafka"])
table(f"consume from plainkafka's MockCluster vs from Kafka {count:,} x {size} B, median of {runs} runs",
      ["mock-plainkafka", "plainkafka", "mock-rdkafka", "rdkafka"])
PY
rm -f "$results"
