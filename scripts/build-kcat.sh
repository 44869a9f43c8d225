#!/usr/bin/env bash
# Builds kcat (the benchmark's peer on the command line) from a kcat source tree, linked
# statically against the librdkafka that the `rdkafka` dev-dependency builds (with its OpenSSL
# and zstd), so no system librdkafka is needed:
#
#   scripts/build-kcat.sh KCAT_SOURCE_DIR      -> target/kcat/kcat
#
# then `KCAT=target/kcat/kcat scripts/bench-cli.sh`. JSON and Avro output are left out.
set -euo pipefail
src=$(cd "${1:?usage: build-kcat.sh KCAT_SOURCE_DIR}" && pwd)
cd "$(dirname "$0")/.."
# librdkafka's own build (-O2) is the same in either cargo profile: use whichever exists.
find_rd() { { ls -d target/{release,debug}/build/rdkafka-sys-*/out/src/librdkafka.a 2>/dev/null || true; } | head -1; }
[ -n "$(find_rd)" ] || cargo build --quiet --release -p plainkafka-interop --example bench
lib=$(find_rd)
[ -n "$lib" ] || { echo "no librdkafka.a under target/*/build/rdkafka-sys-*/out" >&2; exit 1; }
rd=$(dirname "$(dirname "$lib")")
build=$(dirname "$(dirname "$rd")")
ssl=$({ ls -d $build/openssl-sys-*/out/openssl-build/install/lib 2>/dev/null || true; } | head -1)
zstd=$({ ls $build/zstd-sys-*/out/libzstd.a 2>/dev/null || true; } | head -1)
out=target/kcat
rm -rf "$out" && mkdir -p "$out/include/librdkafka"
cp "$rd/src/rdkafka.h" "$rd/src/rdkafka_mock.h" "$out/include/librdkafka/"
cat > "$out/config.h" <<'H'
#define KCAT_VERSION "1.8.0"
#define ENABLE_KAFKACONSUMER 1
#define ENABLE_INCREMENTAL_ASSIGN 1
#define ENABLE_TXNS 1
#define ENABLE_JSON 0
#define ENABLE_AVRO 0
H
gcc -O2 -w -I"$out" -I"$out/include" -o "$out/kcat" \
  "$src/kcat.c" "$src/format.c" "$src/tools.c" "$src/input.c" \
  "$rd/src/librdkafka.a" "$ssl/libssl.a" "$ssl/libcrypto.a" "$zstd" -lz -lm -ldl -lpthread -lrt
"$out/kcat" -V | head -4 | tail -1
