#!/usr/bin/env python3
"""x11_client.py: hand-made X11 connection setups, to check what a proxy
between an X client and an X server lets through.

Connects to 127.0.0.1:--port (an X11 display port, such as the one sshd
opens on the gateway for a forwarded display) and sends a connection setup
for --case, with the MIT-MAGIC-COOKIE-1 --cookie (hex) as its authorization
where the case uses one, in byte order --order (B: most significant byte
first, l: least):

  good         the cookie; expect Success and print the screen size WxH
  split        the same, sent one byte at a time
  pipelined    setup and a GetInputFocus request in one write; expect
               Success, then the request's reply
  wrong-cookie the cookie with one bit flipped; expect Failed
  no-auth      no authorization at all; expect Failed
  short-data   the cookie's first 15 bytes; expect Failed
  long-data    the cookie and one more byte; expect Failed
  other-proto  XDM-AUTHORIZATION-1 with the cookie; expect Failed
  bad-order    a first byte that is neither 'B' nor 'l'; expect the
               connection closed without a reply
  truncated    the first 20 bytes of a good setup, then close
  many         --conns good connections at once: all setups sent, then all
               replies read, then a GetInputFocus on each; with --ready-file
               and --release-file, held open (after writing the first) until
               the second exists
--expect-size WxH checks the screen size; --expect-reason TEXT a Failed
reply's reason. Exit 0 when everything came as expected. Every wait has a
timeout; all traffic is loopback.
"""

import argparse
import os
import socket
import struct
import sys
import time

import wtools

MIT = b"MIT-MAGIC-COOKIE-1"
TIMEOUT = 15


def pad(n):
    return (4 - n % 4) % 4


def setup_bytes(order, name, data, major=11, minor=0):
    e = ">" if order == "B" else "<"
    head = order.encode() + b"\0" + struct.pack(e + "HHHHH", major, minor, len(name), len(data), 0)
    return head + name + b"\0" * pad(len(name)) + data + b"\0" * pad(len(data))


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_reply(s, order):
    """The server's answer to a setup: ('ok', (w, h)) or ('failed', reason)."""
    e = ">" if order == "B" else "<"
    head = recv_exact(s, 8)
    extra = struct.unpack(e + "H", head[6:8])[0] * 4
    body = recv_exact(s, extra)
    if head[0] == 0:
        return "failed", body[: head[1]].decode("latin-1")
    if head[0] != 1:
        return "other", head[0]
    full = head + body
    vlen = struct.unpack(e + "H", full[24:26])[0]
    nformats = full[29]
    screen = 40 + vlen + pad(vlen) + 8 * nformats
    w, h = struct.unpack(e + "HH", full[screen + 20 : screen + 24])
    return "ok", (w, h)


def get_input_focus(s, order, seq):
    """One request (opcode 43) and its 32-byte reply, checked by sequence."""
    e = ">" if order == "B" else "<"
    s.sendall(struct.pack(e + "BBH", 43, 0, 1))
    return check_focus_reply(s, order, seq)


def check_focus_reply(s, order, seq):
    e = ">" if order == "B" else "<"
    reply = recv_exact(s, 32)
    if reply[0] != 1:
        raise ValueError("GetInputFocus: expected a reply, got type %d" % reply[0])
    got = struct.unpack(e + "H", reply[2:4])[0]
    if got != seq:
        raise ValueError("GetInputFocus: sequence %d, expected %d" % (got, seq))


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def expect_ok(result, args):
    kind, value = result
    if kind != "ok":
        raise ValueError("expected Success, got %s: %r" % (kind, value))
    size = "%dx%d" % value
    if args.expect_size and size != args.expect_size:
        raise ValueError("screen %s, expected %s" % (size, args.expect_size))
    return size


def expect_failed(result, args):
    kind, value = result
    if kind != "failed":
        raise ValueError("expected Failed, got %s: %r" % (kind, value))
    if args.expect_reason and args.expect_reason not in value:
        raise ValueError("reason %r does not contain %r" % (value, args.expect_reason))
    return value


def expect_eof(s):
    data = s.recv(4096)
    if data:
        raise ValueError("expected the connection closed, got %r" % data[:32])


def run_case(args, cookie):
    o = args.order
    s = connect(args.port)
    try:
        if args.case == "good":
            s.sendall(setup_bytes(o, MIT, cookie))
            print(expect_ok(read_reply(s, o), args))
            get_input_focus(s, o, 1)
        elif args.case == "split":
            for b in setup_bytes(o, MIT, cookie):
                s.sendall(bytes([b]))
                time.sleep(0.005)
            print(expect_ok(read_reply(s, o), args))
        elif args.case == "pipelined":
            e = ">" if o == "B" else "<"
            s.sendall(setup_bytes(o, MIT, cookie) + struct.pack(e + "BBH", 43, 0, 1))
            print(expect_ok(read_reply(s, o), args))
            check_focus_reply(s, o, 1)
        elif args.case == "wrong-cookie":
            forged = bytes([cookie[0] ^ 1]) + cookie[1:]
            s.sendall(setup_bytes(o, MIT, forged))
            print(expect_failed(read_reply(s, o), args))
            expect_eof(s)
        elif args.case == "no-auth":
            s.sendall(setup_bytes(o, b"", b""))
            print(expect_failed(read_reply(s, o), args))
            expect_eof(s)
        elif args.case == "short-data":
            s.sendall(setup_bytes(o, MIT, cookie[:15]))
            print(expect_failed(read_reply(s, o), args))
        elif args.case == "long-data":
            s.sendall(setup_bytes(o, MIT, cookie + b"\0"))
            print(expect_failed(read_reply(s, o), args))
        elif args.case == "other-proto":
            s.sendall(setup_bytes(o, b"XDM-AUTHORIZATION-1", cookie))
            print(expect_failed(read_reply(s, o), args))
        elif args.case == "bad-order":
            s.sendall(b"X" + setup_bytes(o, MIT, cookie)[1:])
            expect_eof(s)
            print("closed")
        elif args.case == "truncated":
            s.sendall(setup_bytes(o, MIT, cookie)[:20])
            print("sent 20 bytes")
        else:
            raise ValueError("unknown case %r" % args.case)
    finally:
        s.close()


def run_many(args, cookie):
    o = args.order
    socks = [connect(args.port) for _ in range(args.conns)]
    try:
        for s in socks:
            s.sendall(setup_bytes(o, MIT, cookie))
        sizes = set(expect_ok(read_reply(s, o), args) for s in socks)
        for s in socks:
            get_input_focus(s, o, 1)
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write("%d\n" % len(socks))
            deadline = time.monotonic() + 60
            while not os.path.exists(args.release_file):
                if time.monotonic() > deadline:
                    raise TimeoutError("no %s within 60 s" % args.release_file)
                time.sleep(0.05)
            # Still working after the hold.
            for s in socks:
                get_input_focus(s, o, 2)
        print("%d connections, screen %s" % (len(socks), ",".join(sorted(sizes))))
    finally:
        for s in socks:
            s.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cookie", default="00" * 16, help="MIT-MAGIC-COOKIE-1 data, hex")
    p.add_argument("--case", required=True)
    p.add_argument("--order", choices=("B", "l"), default="l")
    p.add_argument("--expect-size")
    p.add_argument("--expect-reason")
    p.add_argument("--conns", type=int, default=20)
    p.add_argument("--ready-file")
    p.add_argument("--release-file")
    args = p.parse_args()
    wtools.check_loopback("127.0.0.1")
    cookie = bytes.fromhex(args.cookie)
    try:
        if args.case == "many":
            run_many(args, cookie)
        else:
            run_case(args, cookie)
    except (OSError, EOFError, ValueError, TimeoutError) as e:
        print("FAIL: %s (%s, byte order %s): %s" % (args.case, args.port, args.order, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
