#!/usr/bin/env python3
"""A recording Kafka proxy for golden bytes.

    proxy.py LISTEN_PORT BROKER_PORT OUT_DIR

Relays every connection to the broker and writes, for the first exchange of each (client,
API, version), the request and the response frames (without their size prefixes) as
OUT_DIR/<client>-<api>-v<version>.req and .resp. <client> is "plainkafka" for plainkafka's
client id and "java" for the Java client's. The broker must advertise LISTEN_PORT, so that
every connection goes through here.
"""
import os
import socket
import struct
import sys
import threading

NAMES = {0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
         10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
         15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions", 19: "CreateTopics",
         20: "DeleteTopics", 22: "InitProducerId", 36: "SaslAuthenticate"}

listen_port, broker_port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
os.makedirs(out, exist_ok=True)
lock = threading.Lock()


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def frames(src, dst, on_frame):
    try:
        while True:
            head = read_exact(src, 4)
            if head is None:
                break
            body = read_exact(src, struct.unpack(">i", head)[0])
            if body is None:
                break
            on_frame(body)
            dst.sendall(head + body)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    broker = socket.create_connection(("127.0.0.1", broker_port))
    pending = {}

    def request(body):
        api, version, corr, id_len = struct.unpack(">hhih", body[:10])
        client_id = body[10:10 + max(id_len, 0)].decode("utf-8", "replace")
        who = "plainkafka" if client_id.startswith("plainkafka") else "java"
        pending[corr] = (who, api, version, body)

    def response(body):
        corr = struct.unpack(">i", body[:4])[0]
        if corr not in pending:
            return
        who, api, version, req = pending.pop(corr)
        name = "%s-%s-v%d" % (who, NAMES.get(api, "api%d" % api), version)
        with lock:
            path = os.path.join(out, name)
            # A Fetch answer with records says more than an empty one: it replaces it.
            empty_fetch = api == 1 and os.path.exists(path + ".resp") and os.path.getsize(path + ".resp") < 200
            if os.path.exists(path + ".req") and not (empty_fetch and len(body) > 200):
                return
            with open(path + ".req", "wb") as f:
                f.write(req)
            with open(path + ".resp", "wb") as f:
                f.write(body)

    threading.Thread(target=frames, args=(client, broker, request), daemon=True).start()
    threading.Thread(target=frames, args=(broker, client, response), daemon=True).start()


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(64)
while True:
    conn, _ = server.accept()
    serve(conn)
