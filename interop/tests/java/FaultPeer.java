// The Java client under the same fault as plainkafka in tests/kafka_cluster.rs: it writes
// numbered messages round-robin over a topic's partitions at a fixed rate (idempotent,
// acks=all) while a consumer-group member reads them, and reports the same two measures: the
// longest a message waited for its acknowledgement after send(), and to be read after its
// acknowledgement. Compiled by the test against Kafka's own client jar.
//
//   java FaultPeer BOOTSTRAP TOPIC PARTITIONS RATE_PER_S SECONDS
//
// Prints "ready" once the first message was acknowledged and read, then at the end one line:
// "producer_ms=N consumer_ms=N failed=N unread=N total=N".

import java.time.Duration;
import java.util.Collections;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class FaultPeer {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        int partitions = Integer.parseInt(args[2]);
        long rate = Long.parseLong(args[3]);
        long seconds = Long.parseLong(args[4]);
        int total = (int) (rate * seconds);
        AtomicLongArray sent = new AtomicLongArray(total);
        AtomicLongArray acked = new AtomicLongArray(total);
        AtomicLongArray read = new AtomicLongArray(total);
        AtomicInteger failed = new AtomicInteger();
        AtomicInteger unread = new AtomicInteger(total);

        // The same timeouts as the plainkafka clients of the test.
        Properties common = new Properties();
        common.put("bootstrap.servers", bootstrap);
        common.put("request.timeout.ms", "5000");
        common.put("socket.connection.setup.timeout.ms", "2000");
        common.put("retry.backoff.ms", "100");

        Properties c = new Properties();
        c.putAll(common);
        c.put("group.id", topic + "-group");
        c.put("auto.offset.reset", "earliest");
        c.put("session.timeout.ms", "10000");
        c.put("heartbeat.interval.ms", "500");
        c.put("auto.commit.interval.ms", "500");
        c.put("key.deserializer", StringDeserializer.class.getName());
        c.put("value.deserializer", StringDeserializer.class.getName());
        Thread reader = new Thread(() -> {
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
                consumer.subscribe(Collections.singletonList(topic));
                long deadline = System.nanoTime() + Duration.ofSeconds(seconds + 180).toNanos();
                while (unread.get() > 0 && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                        int v = Integer.parseInt(r.value());
                        if (read.compareAndSet(v, 0, System.nanoTime())) {
                            unread.decrementAndGet();
                        }
                    }
                }
            }
        });
        reader.start();

        Properties p = new Properties();
        p.putAll(common);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        p.put("delivery.timeout.ms", "120000");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        boolean ready = false;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            long start = System.nanoTime();
            for (int i = 0; i < total; i++) {
                long due = start + i * 1_000_000_000L / rate;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
                }
                final int v = i;
                sent.set(v, System.nanoTime());
                producer.send(new ProducerRecord<>(topic, v % partitions, null, Integer.toString(v)), (meta, e) -> {
                    if (e != null) {
                        failed.incrementAndGet();
                    } else {
                        acked.set(v, System.nanoTime());
                    }
                });
                if (!ready && read.get(0) != 0) {
                    ready = true;
                    System.out.println("ready");
                    System.out.flush();
                }
            }
            producer.flush();
        }
        reader.join();
        long producerWait = 0;
        long consumerWait = 0;
        for (int i = 0; i < total; i++) {
            if (acked.get(i) != 0) {
                producerWait = Math.max(producerWait, acked.get(i) - sent.get(i));
                if (read.get(i) != 0) {
                    consumerWait = Math.max(consumerWait, read.get(i) - acked.get(i));
                }
            }
        }
        System.out.printf("producer_ms=%d consumer_ms=%d failed=%d unread=%d total=%d%n",
                producerWait / 1_000_000, consumerWait / 1_000_000, failed.get(), unread.get(), total);
    }
}
