#!/usr/bin/env python3
"""echo_server.py: a TCP echo server on loopback for warren's tests.

Echoes every byte back; when the client half-closes (EOF) it finishes sending
and half-closes too. Logs one "accept N from HOST:PORT" line per connection,
so a test can count how many connections reached it.

  echo_server.py --port-file FILE [--port 0] [--log FILE]
"""

import argparse
import socket
import sys

import wtools


def handle(conn, conn_id, log):
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
        total += len(data)
    conn.shutdown(socket.SHUT_WR)
    log("conn %d: closed after echoing %d bytes", conn_id, total)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    wtools.add_server_args(p)
    return wtools.serve(p.parse_args(), handle, "echo")


if __name__ == "__main__":
    sys.exit(main())
