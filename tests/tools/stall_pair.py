#!/usr/bin/env python3
"""stall_pair.py: a flow-control probe (loopback only).

A server on 127.0.0.1 accepts one connection and reads nothing until the
file named by --release exists; the client connects through PORT and pushes
--bytes of a pseudorandom stream as fast as the path lets it. While the
server is stalled the client must block (a slow reader slows the writer);
the script writes how many bytes the client got out before it blocked to
--sent-file. Once released, the server reads everything and both sides'
sha256 must match; exit 0 only then.

  stall_pair.py --port PORT --port-file F --sent-file F --release F --bytes N
"""

import argparse
import hashlib
import os
import socket
import sys
import threading
import time

import wtools

CHUNK = 65536


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen-port-file", required=True)
    ap.add_argument("--port-file", required=True, help="the tunnel's port is read from here")
    ap.add_argument("--sent-file", required=True)
    ap.add_argument("--release", required=True)
    ap.add_argument("--bytes", type=int, required=True)
    ap.add_argument("--max-seconds", type=float, default=120)
    a = ap.parse_args()
    deadline = time.monotonic() + a.max_seconds

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with open(a.listen_port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(a.listen_port_file + ".tmp", a.listen_port_file)

    result = {}

    def serve():
        conn, _ = srv.accept()
        while not os.path.exists(a.release) and time.monotonic() < deadline:
            time.sleep(0.05)
        h = hashlib.sha256()
        n = 0
        conn.settimeout(max(1.0, deadline - time.monotonic()))
        while True:
            data = conn.recv(262144)
            if not data:
                break
            h.update(data)
            n += len(data)
        result["got"] = (n, h.hexdigest())
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    while not os.path.exists(a.port_file) and time.monotonic() < deadline:
        time.sleep(0.05)
    port = int(open(a.port_file).read())
    cli = socket.create_connection(("127.0.0.1", port), timeout=10)
    cli.setblocking(False)
    sent = 0
    stream = wtools.stream_chunks("stall", "up", a.bytes)
    pending = b""
    idle_since = None
    reported = False
    want = hashlib.sha256()
    while time.monotonic() < deadline:
        if not pending:
            pending = next(stream, b"")
            want.update(pending)
            if not pending:
                break
        try:
            k = cli.send(pending[:CHUNK])
            sent += k
            pending = pending[k:]
            idle_since = None
        except BlockingIOError:
            # Blocked for a whole second: the path is full; report it once.
            now = time.monotonic()
            idle_since = idle_since or now
            if not reported and now - idle_since > 1.0:
                with open(a.sent_file, "w") as f:
                    f.write(str(sent))
                reported = True
            time.sleep(0.01)
    if pending:
        print("FAIL: client still had data after %.0f s" % a.max_seconds)
        return 1
    cli.shutdown(socket.SHUT_WR)
    t.join(max(1.0, deadline - time.monotonic()))
    if not reported:
        print("FAIL: the client never blocked: %d bytes went through a stalled reader" % sent)
        return 1
    got = result.get("got")
    if got != (a.bytes, want.hexdigest()):
        print("FAIL: server got %r, expected %d bytes %s" % (got, a.bytes, want.hexdigest()))
        return 1
    print("OK: blocked after %s bytes; %d bytes arrived intact" % (open(a.sent_file).read(), a.bytes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
