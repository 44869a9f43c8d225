#!/usr/bin/env bash
# Prints how Kafka VERSION lays out messages on the wire, every version of each, e.g.
#
#   scripts/kafka/schema.sh 4.4.0 ShareFetchRequest ShareFetchResponse
#
# from the generated classes in that version's kafka-clients jar (fetched like start.sh does):
# field order, types, nullability and tagged fields, for writing or checking a codec in
# src/protocol/.
set -euo pipefail
version=${1:?usage: schema.sh VERSION MESSAGE...}
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bash "$here/start.sh" "$version" fetch
out=$root/target/kafka/schema-tool
mkdir -p "$out"
javac -d "$out" "$here/schema/Schema.java"
java -cp "$out:$root/target/kafka/$version/libs/*" Schema "$@"
