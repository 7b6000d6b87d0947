#!/usr/bin/env python3
"""bad_agent.py: an ssh-agent socket that never helps (local only).

  --mode silent  accepts every connection and reads what comes, but never
                 answers: an agent waiting for the user to confirm a key
                 (ssh-add -c), or a hung one.
  --mode hangup  accepts, reads the first request and closes: an agent that
                 dies (or a forwarded agent whose link drops) mid-request.
  --mode full    listens with a backlog of 0 and never accepts, with its
                 queue filled by connections of its own: a blocking connect
                 to it waits for ever.
Writes "ready" to --ready-file once the socket is in that state.

  bad_agent.py --socket PATH --mode silent|hangup|full --ready-file F [--max-seconds S]
"""

import argparse
import os
import socket
import sys
import threading
import time

import wtools


def drain(conn):
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def hang_up(conn):
    try:
        conn.recv(4096)
    except OSError:
        pass
    conn.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--socket", required=True)
    p.add_argument("--mode", choices=("silent", "hangup", "full"), required=True)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--max-seconds", type=float, default=300.0)
    args = p.parse_args()

    if os.path.exists(args.socket):
        os.unlink(args.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(args.socket)
    deadline = time.monotonic() + args.max_seconds
    if args.mode == "full":
        srv.listen(0)
        fill = []
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(args.socket)
            except BlockingIOError:
                c.close()
                break
            fill.append(c)
            if len(fill) > 64:
                sys.exit("bad_agent: the backlog never filled")
        wtools.write_atomic(args.ready_file, "ready\n")
        time.sleep(max(0.0, deadline - time.monotonic()))
        return 0
    srv.listen(16)
    srv.settimeout(0.5)
    wtools.write_atomic(args.ready_file, "ready\n")
    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        work = hang_up if args.mode == "hangup" else drain
        threading.Thread(target=work, args=(conn,), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
