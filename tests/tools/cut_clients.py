#!/usr/bin/env python3
"""cut_clients.py: clients whose tunnel is stopped under them (loopback only).

Opens --transfers connections to --xfer-port speaking xfer_server.py's
protocol (duplex, nothing up and far more bytes down than can pass before the
stop) and --idle connections to --echo-port (one line echoed, then
quiet). Once every connection is busy it writes --ready-file and keeps
going; the test then stops the daemon. Each connection is followed to its
end and classified: "eof" (an orderly FIN), "rst" (ECONNRESET) or "hung"
(still open --end-timeout seconds after --ready-file). Every byte received
is compared with the stream the server sends: a received prefix that
differs is "corrupt". Prints one JSON object with the counts and, per kind,
how the connections ended; exit 0 unless a connection hung or got corrupt
data (the test decides what endings it accepts).
"""

import argparse
import json
import socket
import sys
import threading
import time

import wtools


def transfer(args, i, results, ready):
    seed = "cut-%d-%d" % (i, int(time.time() * 1000))
    big = 1 << 34  # 16 GB: cannot finish
    res = {"kind": "transfer", "received": 0, "end": None, "corrupt": False}
    results.append(res)
    s = socket.create_connection(("127.0.0.1", args.xfer_port), timeout=args.setup_timeout)
    # Nothing up (the server would hash all of it before starting), 16 GB down.
    s.sendall(("XFER duplex 0 %d %s\n" % (big, seed)).encode())
    expect = wtools.stream_chunks(seed, "down", big)
    pending = b""
    s.settimeout(0.2)
    deadline = None
    try:
        while True:
            if ready.is_set() and deadline is None:
                deadline = time.monotonic() + args.end_timeout
            if deadline is not None and time.monotonic() > deadline:
                res["end"] = "hung"
                return
            try:
                data = s.recv(262144)
            except socket.timeout:
                continue
            except ConnectionResetError:
                res["end"] = "rst"
                return
            if not data:
                res["end"] = "eof"
                return
            view = data
            while view:
                if not pending:
                    pending = next(expect)
                n = min(len(view), len(pending))
                if view[:n] != pending[:n]:
                    res["corrupt"] = True
                    res["end"] = "corrupt"
                    return
                view, pending = view[n:], pending[n:]
            res["received"] += len(data)
    finally:
        s.close()


def idle(args, i, results, ready):
    res = {"kind": "idle", "received": 0, "end": None, "corrupt": False}
    results.append(res)
    s = socket.create_connection(("127.0.0.1", args.echo_port), timeout=args.setup_timeout)
    line = b"idle %d\n" % i
    s.sendall(line)
    got = b""
    try:
        while len(got) < len(line):
            d = s.recv(100)
            if not d:
                break
            got += d
    except OSError as e:
        res["end"] = "setup failed: %s" % e
        s.close()
        return
    if got != line:
        res["corrupt"] = True
    res["received"] = len(got)
    ready.wait(args.setup_timeout + 60)
    s.settimeout(args.end_timeout)
    try:
        d = s.recv(100)
        res["end"] = "eof" if not d else "data"
    except ConnectionResetError:
        res["end"] = "rst"
    except socket.timeout:
        res["end"] = "hung"
    finally:
        s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--xfer-port", type=int, required=True)
    p.add_argument("--echo-port", type=int, required=True)
    p.add_argument("--transfers", type=int, default=8)
    p.add_argument("--idle", type=int, default=8)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--end-timeout", type=float, default=15.0)
    p.add_argument("--setup-timeout", type=float, default=30.0,
                   help="seconds for the connections to get going (longer under valgrind)")
    args = p.parse_args()

    results = []
    ready = threading.Event()
    threads = [threading.Thread(target=transfer, args=(args, i, results, ready), daemon=True)
               for i in range(args.transfers)]
    threads += [threading.Thread(target=idle, args=(args, i, results, ready), daemon=True)
                for i in range(args.idle)]
    for t in threads:
        t.start()
    # Busy: every transfer has received data.
    limit = time.monotonic() + args.setup_timeout
    while time.monotonic() < limit:
        if len(results) == len(threads) and all(r["received"] > 0 for r in results):
            break
        time.sleep(0.05)
    else:
        print("cut_clients: not every connection got going", file=sys.stderr)
        return 1
    wtools.write_atomic(args.ready_file, "ready\n")
    # The test stops the daemon now; we wait for the ends.
    time.sleep(0.2)
    ready.set()
    for t in threads:
        t.join(args.end_timeout + 10)
    summary = {"connections": len(results), "ends": {}, "bytes": sum(r["received"] for r in results),
               "corrupt": sum(1 for r in results if r["corrupt"])}
    for r in results:
        key = "%s:%s" % (r["kind"], r["end"])
        summary["ends"][key] = summary["ends"].get(key, 0) + 1
    print(json.dumps(summary, sort_keys=True))
    bad = summary["corrupt"] or any(r["end"] not in ("eof", "rst") for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
