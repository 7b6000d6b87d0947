#!/usr/bin/env python3
"""blackhole.py: a TCP port that answers no new connection (loopback only).

Listens on a free port of 127.0.0.1 with a backlog of 0 and fills the
accept queue with connections of its own that it never accepts: the
kernel then drops every new SYN, so a connect to the port neither succeeds
nor is refused until the connecting side gives up (about 127 s with
Linux's defaults), as with a host behind a firewall that drops packets.
Writes the port to --port-file once a probe connect has been seen to hang.

  blackhole.py --port-file F [--max-seconds S]
"""

import argparse
import socket
import sys
import time

import wtools


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port-file", required=True)
    p.add_argument("--max-seconds", type=float, default=600.0)
    args = p.parse_args()

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fill = []
    for _ in range(8):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    time.sleep(0.5)
    probe = socket.socket()
    probe.settimeout(1.5)
    try:
        probe.connect(("127.0.0.1", port))
        sys.exit("blackhole: a connect to port %d succeeded: the queue is not full" % port)
    except socket.timeout:
        pass
    finally:
        probe.close()
    wtools.write_atomic(args.port_file, "%d\n" % port)
    time.sleep(args.max_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
