#!/usr/bin/env python3
"""churn.py: many short connections at once, every byte checked (loopback only).

  churn.py serve  --port-file FILE [--log FILE] [--max-seconds N]
  churn.py client --port P [--conns 1000] [--seconds 60] [--max-bytes 32768]
                  [--report FILE]

The server echoes: a client sends one line "CHURN ID NBYTES\\n", then NBYTES
random bytes, then half-closes; the server sends back every byte after the
line as it arrives and, at the client's EOF, checks it got exactly NBYTES,
then closes. The client keeps --conns connections open at all times for
--seconds: each one connects, sends, reads the echo to EOF and compares it
with what it sent (nothing lost, duplicated, reordered or corrupted), closes,
and starts the next. Any difference, error or stall (--timeout) is a failure.
Exit 0 only when there was none; the last line says how many connections and
bytes went through. One thread, asyncio, standard library only.
"""

import argparse
import asyncio
import os
import random
import sys
import time

import wtools


# ---- server ------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.conns = 0
        self.ok = 0
        self.bad = 0
        self.bytes = 0


async def serve_one(reader, writer, stats, log, timeout):
    stats.conns += 1
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        if len(parts) != 3 or parts[0] != b"CHURN":
            raise ValueError("bad header %r" % line[:80])
        want = int(parts[2])
        got = 0
        while True:
            data = await asyncio.wait_for(reader.read(65536), timeout)
            if not data:
                break
            got += len(data)
            writer.write(data)
            await asyncio.wait_for(writer.drain(), timeout)
        if got != want:
            raise ValueError("conn %s: received %d bytes, announced %d" % (parts[1].decode(), got, want))
        stats.ok += 1
        stats.bytes += got
    except (Exception, asyncio.TimeoutError) as e:  # reported, never fatal
        stats.bad += 1
        log("FAIL %s: %s", type(e).__name__, e)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except Exception:
            pass


async def serve(args):
    wtools.check_loopback(args.host)
    log = wtools.Log(args.log)
    stats = Stats()
    server = await asyncio.start_server(
        lambda r, w: serve_one(r, w, stats, log, args.timeout), args.host, args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    log("churn server on %s:%d", args.host, port)
    if args.port_file:
        wtools.write_atomic(args.port_file, "%d\n" % port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()
    log("churn server stopped: %d connections, %d ok, %d failed, %d bytes echoed",
        stats.conns, stats.ok, stats.bad, stats.bytes)
    return 0


# ---- client ------------------------------------------------------------------

class ClientStats:
    def __init__(self):
        self.done = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.errors = []
        self.open = 0
        self.peak = 0


async def one_conn(args, cid, payload, stats):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(args.host, args.port), args.timeout)
    stats.open += 1
    stats.peak = max(stats.peak, stats.open)
    try:
        writer.write(b"CHURN %d %d\n" % (cid, len(payload)))

        async def send():
            view = memoryview(payload)
            for off in range(0, len(payload), 16384):
                writer.write(view[off:off + 16384])
                await asyncio.wait_for(writer.drain(), args.timeout)
            writer.write_eof()

        sender = asyncio.ensure_future(send())
        got = bytearray()
        while True:
            data = await asyncio.wait_for(reader.read(65536), args.timeout)
            if not data:
                break
            got += data
            if len(got) > len(payload):
                break
        await sender
        if bytes(got) != payload:
            where = next((i for i in range(min(len(got), len(payload))) if got[i] != payload[i]),
                         min(len(got), len(payload)))
            raise ValueError("conn %d: echo of %d bytes differs from the %d sent (first difference at %d)"
                             % (cid, len(got), len(payload), where))
        stats.bytes_up += len(payload)
        stats.bytes_down += len(got)
        stats.done += 1
    finally:
        stats.open -= 1
        writer.close()
        try:
            await writer.wait_closed()
        except Exception:
            pass


async def worker(args, index, deadline, stats, rng):
    n = 0
    while time.monotonic() < deadline and not stats.errors:
        size = rng.randint(0, args.max_bytes)
        payload = os.urandom(size)
        cid = index * 1000000 + n
        n += 1
        try:
            await one_conn(args, cid, payload, stats)
        except (Exception, asyncio.TimeoutError) as e:
            stats.errors.append("conn %d (%d bytes): %s: %s" % (cid, size, type(e).__name__, e))


async def client(args):
    wtools.check_loopback(args.host)
    stats = ClientStats()
    rng = random.Random(args.seed)
    start = time.monotonic()
    deadline = start + args.seconds
    tasks = [asyncio.ensure_future(worker(args, i, deadline, stats, random.Random(rng.random())))
             for i in range(args.conns)]

    async def progress():
        while True:
            await asyncio.sleep(10)
            print("churn: %.0f s: %d connections done, %d open" % (time.monotonic() - start, stats.done, stats.open),
                  flush=True)

    prog = asyncio.ensure_future(progress())
    # Bounded: the workers stop starting connections at the deadline; each
    # one in flight has --timeout per step; a hard stop after that.
    done, pending = await asyncio.wait(tasks, timeout=args.seconds + 4 * args.timeout + 10)
    prog.cancel()
    for t in pending:
        t.cancel()
        stats.errors.append("a worker still running at the hard time limit")
    elapsed = time.monotonic() - start
    summary = ("churn: %d connections in %.1f s (%d concurrent, peak %d open), %d bytes up and %d down, "
               "every byte checked" % (stats.done, elapsed, args.conns, stats.peak, stats.bytes_up, stats.bytes_down))
    if args.report:
        wtools.write_atomic(args.report, "%d %d %d %d\n" % (stats.done, stats.peak, stats.bytes_up, stats.bytes_down))
    if stats.errors:
        for e in stats.errors[:20]:
            print("churn: FAIL " + e, file=sys.stderr)
        print("churn: FAILED: %d error(s); %s" % (len(stats.errors), summary), file=sys.stderr)
        return 1
    print(summary)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--log")
    s.add_argument("--timeout", type=float, default=60.0)
    s.add_argument("--max-seconds", type=float, default=900.0)
    c = sub.add_parser("client")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--conns", type=int, default=1000)
    c.add_argument("--seconds", type=float, default=60.0)
    c.add_argument("--max-bytes", type=int, default=32768)
    c.add_argument("--timeout", type=float, default=30.0)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--report")
    args = p.parse_args()
    if args.mode == "serve":
        return asyncio.run(serve(args))
    if args.seconds > 60:
        sys.exit("--seconds is at most 60")
    return asyncio.run(client(args))


if __name__ == "__main__":
    sys.exit(main())
