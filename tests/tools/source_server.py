#!/usr/bin/env python3
"""source_server.py: a server that only sends (loopback only).

Each connection gets --bytes bytes of a fixed pattern as fast as the client
takes them, then a close (FIN); it reads nothing. One line per connection in
the log: "conn N: sent BYTES" or "conn N: FAIL reason".

  source_server.py --port-file F --bytes N [--log F]
"""

import argparse
import sys

import wtools

PATTERN = b"warren-source\n" * 4681  # 65534 bytes


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    wtools.add_server_args(p)
    p.add_argument("--bytes", type=wtools.parse_size, required=True)
    args = p.parse_args()

    def handler(conn, conn_id, log):
        left = args.bytes
        while left > 0:
            piece = PATTERN[:left]
            conn.sendall(piece)
            left -= len(piece)
        log("conn %d: sent %d", conn_id, args.bytes)

    return wtools.serve(args, handler, "source")


if __name__ == "__main__":
    sys.exit(main())
