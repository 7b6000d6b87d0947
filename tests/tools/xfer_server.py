#!/usr/bin/env python3
"""xfer_server.py: the sink/source end of warren's data tests (loopback only).

A client (xfer_client.py) sends one header line

    XFER MODE UP DOWN SEED

then UP bytes of the stream (SEED, "up"); the server sends DOWN bytes of the
stream (SEED, "down"). Both streams are pseudorandom and fixed by SEED, so the
server checks what it received against what it should have received:

  duplex       the server sends while it receives; after the client's EOF it
               sends a trailer line "OK|BAD COUNT SHA256" about what it got,
               then closes.
  after-eof    the server reads up to the client's EOF (half-close), then
               sends its data and the trailer: the reply comes only after EOF.
  server-first the server sends its data and half-closes first, then reads
               the client's data up to EOF (no trailer: it can no longer send).

Every connection ends with one line in the log:
  "conn N: OK MODE up=UP down=DOWN" or "conn N: FAIL reason".

  xfer_server.py --port-file FILE [--log FILE]
"""

import argparse
import hashlib
import socket
import sys
import threading

import wtools


def receive_all(conn):
    h = hashlib.sha256()
    count = 0
    while True:
        data = conn.recv(262144)
        if not data:
            return count, h.hexdigest()
        h.update(data)
        count += len(data)


def send_stream(conn, seed, nbytes, errors):
    try:
        for piece in wtools.stream_chunks(seed, "down", nbytes):
            conn.sendall(piece)
    except OSError as e:
        errors.append("sending: %s" % e)


def handle(conn, conn_id, log):
    header = wtools.recv_line(conn).split()
    if len(header) != 5 or header[0] != "XFER":
        log("conn %d: FAIL bad header %r", conn_id, header)
        return
    mode, up, down, seed = header[1], int(header[2]), int(header[3]), header[4]
    expect = wtools.stream_sha256(seed, "up", up)
    errors = []

    if mode == "duplex":
        sender = threading.Thread(target=send_stream, args=(conn, seed, down, errors), daemon=True)
        sender.start()
        got, sha = receive_all(conn)
        sender.join(conn.gettimeout())
        if sender.is_alive():
            errors.append("sending did not finish")
    elif mode == "after-eof":
        got, sha = receive_all(conn)
        send_stream(conn, seed, down, errors)
    elif mode == "server-first":
        send_stream(conn, seed, down, errors)
        conn.shutdown(socket.SHUT_WR)
        got, sha = receive_all(conn)
    else:
        log("conn %d: FAIL unknown mode %r", conn_id, mode)
        return

    ok = got == up and sha == expect and not errors
    if mode != "server-first" and not errors:
        conn.sendall(("%s %d %s\n" % ("OK" if ok else "BAD", got, sha)).encode())
        conn.shutdown(socket.SHUT_WR)
    if ok:
        log("conn %d: OK %s up=%d down=%d", conn_id, mode, up, down)
    else:
        why = "; ".join(errors) or ("received %d bytes sha256 %s, expected %d bytes sha256 %s"
                                    % (got, sha, up, expect))
        log("conn %d: FAIL %s: %s", conn_id, mode, why)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    wtools.add_server_args(p)
    return wtools.serve(p.parse_args(), handle, "xfer")


if __name__ == "__main__":
    sys.exit(main())
