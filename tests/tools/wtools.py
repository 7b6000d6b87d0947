"""Shared pieces of warren's test tools (python3 standard library only).

Deterministic pseudorandom streams (so both ends can check data without
shipping it twice), a threaded loopback TCP server with a hard lifetime, and
small file helpers. Every blocking call in the tools has a timeout.
"""

import hashlib
import os
import random
import signal
import socket
import sys
import threading
import time

CHUNK = 65536
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def stream_chunks(seed, tag, nbytes, chunk=CHUNK):
    """Yield the stream named (seed, tag), nbytes long, in pieces of chunk.

    The stream is fixed by (seed, tag, nbytes) alone: it is generated in
    CHUNK-sized blocks whatever piece size the caller asks for.
    """
    rng = random.Random("%s/%s" % (seed, tag))
    left = nbytes
    pending = b""
    while left > 0 or pending:
        while len(pending) < chunk and left > 0:
            n = min(CHUNK, left)
            pending += rng.randbytes(n)
            left -= n
        piece, pending = pending[:chunk], pending[chunk:]
        yield piece


def stream_sha256(seed, tag, nbytes):
    h = hashlib.sha256()
    for piece in stream_chunks(seed, tag, nbytes):
        h.update(piece)
    return h.hexdigest()


def parse_size(text):
    """'10M' -> 10485760, '64K', '1G', plain bytes."""
    text = text.strip().upper()
    mult = 1
    if text and text[-1] in "KMG":
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[text[-1]]
        text = text[:-1]
    return int(float(text) * mult)


def check_loopback(host):
    if host not in LOOPBACK and not host.startswith("127."):
        sys.exit("refusing non-loopback address %r: tests only use 127.0.0.1/::1" % host)


def write_atomic(path, text):
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class Log:
    """A line log shared by threads, flushed at every line."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1) if path else None

    def __call__(self, fmt, *args):
        line = (fmt % args) if args else fmt
        with self.lock:
            if self.f:
                self.f.write(line + "\n")
            else:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()


def serve(args, handler, name):
    """Listen on args.host:args.port (0 = any free port), write the port to
    args.port_file, run handler(conn, peer, log) in a thread per connection,
    stop on SIGTERM/SIGINT or after args.max_seconds."""
    check_loopback(args.host)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(512)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    log = Log(args.log)
    log("%s listening on %s:%d", name, args.host, port)
    if args.port_file:
        write_atomic(args.port_file, "%d\n" % port)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    deadline = time.monotonic() + args.max_seconds
    conn_id = 0
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            continue
        except OSError as e:
            log("accept failed: %s", e)
            time.sleep(0.05)
            continue
        conn_id += 1
        log("accept %d from %s:%d", conn_id, peer[0], peer[1])
        conn.settimeout(args.idle_timeout)
        t = threading.Thread(target=_run_handler, args=(handler, conn, conn_id, log), daemon=True)
        t.start()
    srv.close()
    log("%s stopped", name)
    return 0


def _run_handler(handler, conn, conn_id, log):
    try:
        handler(conn, conn_id, log)
    except Exception as e:  # report, never kill the server
        log("conn %d: FAIL %s: %s", conn_id, type(e).__name__, e)
    finally:
        try:
            conn.close()
        except OSError:
            pass


def add_server_args(parser):
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--log", help="append one line per event here (default stdout)")
    parser.add_argument("--idle-timeout", type=float, default=60.0)
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="exit after this long whatever happens")


def recv_line(conn, limit=4096):
    """Read one \\n-terminated line byte by byte (headers only)."""
    buf = b""
    while not buf.endswith(b"\n"):
        b = conn.recv(1)
        if not b:
            raise EOFError("EOF before end of line (got %r)" % buf)
        buf += b
        if len(buf) > limit:
            raise ValueError("line too long")
    return buf[:-1].decode()
