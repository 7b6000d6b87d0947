#!/usr/bin/env python3
"""stall_clients.py: clients that read nothing for a while (loopback only).

Opens --conns connections to 127.0.0.1:--port (a server that only sends,
such as source_server.py, usually through a tunnel), reads the first
--read-first bytes of each (default none), writes --ready-file, then reads
nothing until --release-file exists.
Then it reads every connection to its end and checks that each got exactly
--expect bytes and an orderly EOF. --rcvbuf shrinks each socket's receive
buffer, so that little of the data can wait in the kernel.

  stall_clients.py --port P --conns N --expect BYTES --ready-file F \\
                   --release-file F [--read-first BYTES] [--rcvbuf N] [--max-seconds S]
Prints "stall_clients: N connections, TOTAL bytes, all complete" and exits 0,
or one line per connection that went wrong and exits 1.
"""

import argparse
import os
import socket
import sys
import time

import wtools


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--expect", type=wtools.parse_size, required=True)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--release-file", required=True)
    p.add_argument("--read-first", type=wtools.parse_size, default=0)
    p.add_argument("--rcvbuf", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=120.0)
    args = p.parse_args()

    deadline = time.monotonic() + args.max_seconds
    socks = []
    for _ in range(args.conns):
        s = socket.socket()
        if args.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
        s.settimeout(30)
        s.connect(("127.0.0.1", args.port))
        socks.append(s)
    first = [0] * len(socks)
    for i, s in enumerate(socks):
        while first[i] < args.read_first:
            data = s.recv(min(1 << 20, args.read_first - first[i]))
            if not data:
                print("stall_clients: connection %d ended after %d bytes" % (i, first[i]), file=sys.stderr)
                return 1
            first[i] += len(data)
    wtools.write_atomic(args.ready_file, "%d\n" % len(socks))
    while not os.path.exists(args.release_file):
        if time.monotonic() > deadline:
            print("stall_clients: never released", file=sys.stderr)
            return 1
        time.sleep(0.05)
    bad = 0
    total = 0
    for i, s in enumerate(socks):
        got = first[i]
        end = "eof"
        s.settimeout(max(1.0, deadline - time.monotonic()))
        try:
            while True:
                data = s.recv(1 << 20)
                if not data:
                    break
                got += len(data)
        except ConnectionResetError:
            end = "reset"
        except socket.timeout:
            end = "timed out"
        finally:
            s.close()
        total += got
        if end != "eof" or got != args.expect:
            bad += 1
            print("stall_clients: connection %d: %d of %d bytes, then %s" % (i, got, args.expect, end))
    if bad:
        return 1
    print("stall_clients: %d connections, %d bytes, all complete" % (len(socks), total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
