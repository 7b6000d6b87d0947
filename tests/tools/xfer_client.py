#!/usr/bin/env python3
"""xfer_client.py: push pseudorandom data both ways through a port and check it.

Opens --conns connections to 127.0.0.1:--port at once (all are connected
before any sends, so they really are concurrent), speaks the xfer_server.py
protocol on each, and checks the sha256 of every byte in both directions:
the data it receives against the stream it expects, and the server's trailer
against what it sent. Exit 0 only when every connection matched exactly.

  xfer_client.py --port P [--bytes 10M | --up N --down N] [--conns K]
                 [--mode duplex|after-eof|server-first] [--rate BYTES/S]

The client always half-closes (shutdown of its write side) after sending;
in after-eof mode the server's reply comes only after that EOF.
"""

import argparse
import hashlib
import os
import select
import socket
import sys
import threading
import time

import wtools


class Failure(Exception):
    pass


def one_connection(args, index, barrier, deadline):
    seed = "%d-%d-%d" % (os.getpid(), index, int(time.time() * 1000))
    try:
        conn = socket.create_connection((args.host, args.port), timeout=args.timeout)
    except OSError as e:
        barrier.abort()
        raise Failure("connect to %s:%d: %s" % (args.host, args.port, e))
    try:
        try:
            barrier.wait(timeout=args.timeout)
        except threading.BrokenBarrierError:
            raise Failure("not every connection could be opened together")
        conn.sendall(("XFER %s %d %d %s\n" % (args.mode, args.up, args.down, seed)).encode())
        return exchange(conn, args, seed, deadline)
    finally:
        conn.close()


def exchange(conn, args, seed, deadline):
    conn.setblocking(False)
    sent_sha = hashlib.sha256()
    got_sha = hashlib.sha256()
    trailer = b""
    got = 0
    sent = 0
    up_chunks = wtools.stream_chunks(seed, "up", args.up)
    pending = b""
    sending = args.mode != "server-first"  # server-first: send after the server's EOF
    write_closed = False
    eof = False
    start = time.monotonic()
    last_progress = start

    while not eof or not write_closed:
        now = time.monotonic()
        if now > deadline:
            raise Failure("overall time limit reached (sent %d/%d, received %d/%d)"
                          % (sent, args.up, got, args.down))
        if now - last_progress > args.timeout:
            raise Failure("no progress for %.0f s (sent %d/%d, received %d/%d)"
                          % (args.timeout, sent, args.up, got, args.down))

        if sending and not pending and not write_closed:
            pending = next(up_chunks, b"")
            if not pending:
                conn.shutdown(socket.SHUT_WR)
                write_closed = True
                continue

        allowed = True
        if args.rate and sending and pending:
            allowed = sent < args.rate * (now - start) + 65536
        want_write = sending and pending and allowed and not write_closed
        rl = [] if eof else [conn]
        wl = [conn] if want_write else []
        if not rl and not wl:
            time.sleep(0.02)
            continue
        readable, writable, _ = select.select(rl, wl, [], 0.05)

        if readable:
            try:
                data = conn.recv(262144)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:
                raise Failure("receiving after %d bytes: %s" % (got, e))
            if data is not None:
                last_progress = time.monotonic()
                if not data:
                    eof = True
                    if args.mode == "server-first":
                        sending = True
                else:
                    room = max(0, args.down - got)
                    got_sha.update(data[:room])
                    got += min(room, len(data))
                    trailer += data[room:]
                    if len(trailer) > 200:
                        raise Failure("received more than %d bytes plus a trailer" % args.down)
        if writable and pending:
            try:
                n = conn.send(pending[:65536])
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError as e:
                raise Failure("sending after %d bytes: %s" % (sent, e))
            if n:
                sent_sha.update(pending[:n])
                pending = pending[n:]
                sent += n
                last_progress = time.monotonic()

    if got != args.down:
        raise Failure("received %d bytes, expected %d" % (got, args.down))
    if got_sha.hexdigest() != wtools.stream_sha256(seed, "down", args.down):
        raise Failure("the %d bytes received do not match what the server sent (sha256)" % got)
    if args.mode == "server-first":
        if trailer:
            raise Failure("unexpected bytes after the server's data: %r" % trailer[:80])
        return
    want = "OK %d %s\n" % (args.up, sent_sha.hexdigest())
    if trailer.decode(errors="replace") != want:
        raise Failure("server's report %r, expected %r" % (trailer[:200], want.strip()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bytes", type=wtools.parse_size, help="bytes each way (sets --up and --down)")
    p.add_argument("--up", type=wtools.parse_size, default=0)
    p.add_argument("--down", type=wtools.parse_size, default=0)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--mode", choices=("duplex", "after-eof", "server-first"), default="duplex")
    p.add_argument("--rate", type=wtools.parse_size, default=0, help="limit sending to bytes/s per connection")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds without progress before failing")
    p.add_argument("--max-seconds", type=float, default=300.0, help="overall limit")
    args = p.parse_args()
    wtools.check_loopback(args.host)
    if args.bytes is not None:
        args.up = args.down = args.bytes

    deadline = time.monotonic() + args.max_seconds
    barrier = threading.Barrier(args.conns)
    errors = [None] * args.conns

    def run(i):
        try:
            one_connection(args, i, barrier, deadline)
        except Failure as e:
            errors[i] = str(e)
        except Exception as e:
            errors[i] = "%s: %s" % (type(e).__name__, e)

    start = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    elapsed = time.monotonic() - start

    bad = [(i, e) for i, e in enumerate(errors) if e]
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    for i, e in bad:
        print("xfer: connection %d: %s" % (i, e), file=sys.stderr)
    for i in hung:
        print("xfer: connection %d: still running at the time limit" % i, file=sys.stderr)
    if bad or hung:
        print("xfer: FAILED: %d of %d connections" % (len(bad) + len(hung), args.conns), file=sys.stderr)
        return 1
    print("xfer: %d connection(s) %s, %d bytes up and %d down each, every sha256 matched (%.2f s)"
          % (args.conns, args.mode, args.up, args.down, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
