#!/usr/bin/env python3
"""hold_client.py: hold one connection to an echo service and keep it busy.

Connects once to 127.0.0.1:--port (an echo_server.py, usually through a
tunnel) and exchanges one line every --interval seconds, checking each echo,
until --stop-file appears, --lines lines are done, or --max-seconds pass
(the last is a failure). It never reconnects: any error, EOF or wrong echo
is a failure. After every echoed line it rewrites --count-file with
"COUNT LOCALPORT", so a test can watch the same connection progress.
At the end it half-closes and expects the server's EOF.

  hold_client.py --port P --stop-file F --count-file C [--interval 0.2]
  hold_client.py --port P --lines 3        (a quick echo check)
Exit 0 when every line came back intact on the one connection.
"""

import argparse
import os
import socket
import sys
import time

import wtools


def recv_exact_line(conn, want, timeout):
    """Read until `want` (which ends with \\n) has been received."""
    conn.settimeout(timeout)
    buf = b""
    while len(buf) < len(want):
        data = conn.recv(len(want) - len(buf))
        if not data:
            raise EOFError("the connection was closed (got %r of %r)" % (buf, want))
        buf += data
    if buf != want:
        raise ValueError("echo mismatch: sent %r, got %r" % (want, buf))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--stop-file")
    p.add_argument("--count-file")
    p.add_argument("--lines", type=int, default=0, help="stop after this many lines (0: until --stop-file)")
    p.add_argument("--reply-timeout", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=300.0)
    args = p.parse_args()
    wtools.check_loopback(args.host)
    if not args.lines and not args.stop_file:
        p.error("give --lines or --stop-file")

    count = 0
    local = None
    try:
        conn = socket.create_connection((args.host, args.port), timeout=args.reply_timeout)
        local = conn.getsockname()[1]
        deadline = time.monotonic() + args.max_seconds
        while True:
            if args.stop_file and os.path.exists(args.stop_file):
                break
            if args.lines and count >= args.lines:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("no stop signal within %.0f s" % args.max_seconds)
            line = ("line %d from port %d %s\n" % (count, local, os.urandom(8).hex())).encode()
            conn.sendall(line)
            recv_exact_line(conn, line, args.reply_timeout)
            count += 1
            if args.count_file:
                wtools.write_atomic(args.count_file, "%d %d\n" % (count, local))
            time.sleep(args.interval)
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(args.reply_timeout)
        rest = conn.recv(4096)
        if rest:
            raise ValueError("unexpected data before EOF: %r" % rest[:80])
        conn.close()
    except Exception as e:
        print("hold: FAILED after %d lines on local port %s: %s: %s"
              % (count, local, type(e).__name__, e), file=sys.stderr)
        if args.count_file:
            wtools.write_atomic(args.count_file, "%d %s FAILED\n" % (count, local))
        return 1
    print("hold: %d lines echoed over one connection (local port %d)" % (count, local))
    return 0


if __name__ == "__main__":
    sys.exit(main())
