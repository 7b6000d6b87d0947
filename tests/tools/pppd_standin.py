#!/usr/bin/env python3
"""pppd_standin.py: stands in for the local pppd in ppp-ssh tests on a host
whose kernel has no PPP.

warren starts it as it starts pppd: the pty slave on stdin and stdout, log
on stderr, pppd's options as arguments. It does what matters of pppd to
warren, with a tun interface in place of ppp0 (both vanish when their
process ends, however it ends):

  - takes the LOCAL:REMOTE argument and, once the remote stand-in has said
    its hello (a link needs its peer), puts LOCAL peer REMOTE on a fresh
    tun interface (wppp0, wppp1, ...) and sets it up: the event warren's
    netlink code waits for;
  - talks on the pty: sends "LOCAL-HELLO <pid>\\n" and then --bytes of a
    pseudorandom stream (all 256 byte values, in raw mode), expects the
    remote stand-in's "REMOTE-HELLO\\n" followed by all it sent echoed,
    and records "echo-ok N" or "echo-bad ..." in the events file;
  - obeys files in its directory: "exit-now" (exit 16, pppd's "hung up"),
    "ignore-term" (ignore SIGTERM and the pty's hangup, so that only
    SIGKILL ends it);
  - on SIGTERM records whether the route named by check_route= was still
    installed (warren must remove routes before it signals pppd).

Options only the stand-in knows (passed through pppd_options):
  standin_dir=DIR  where the events file and control files are
  check_route=CIDR a route to look for at SIGTERM
  bytes=N          stream length (default 65536)

Every wait is bounded; it exits by itself after 300 s whatever happens.
"""

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time

import wtools

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
LIFETIME = 300


def main():
    opts = {}
    addrs = None
    for a in sys.argv[1:]:
        m = re.fullmatch(r"(standin_dir|check_route|bytes)=(.*)", a)
        if m:
            opts[m.group(1)] = m.group(2)
        elif re.fullmatch(r"[0-9.]+:[0-9.]+", a):
            addrs = a.split(":")
    d = opts.get("standin_dir")
    if not d or not addrs:
        sys.exit("pppd_standin: need standin_dir= and LOCAL:REMOTE")
    nbytes = int(opts.get("bytes", "65536"))
    pid = os.getpid()
    events = os.path.join(d, "events")

    def event(text):
        with open(events, "a") as f:
            f.write("%s %d\n" % (text, pid))

    def route_present():
        route = opts.get("check_route")
        if not route:
            return "n/a"
        out = subprocess.run(["ip", "-4", "route", "show", route], capture_output=True,
                             text=True, timeout=10).stdout
        return "yes" if out.strip() else "no"

    ignore_term = os.path.exists(os.path.join(d, "ignore-term"))

    def on_term(signum, frame):
        event("term route_present=%s" % route_present())
        if ignore_term:
            event("term-ignored")
            return
        os._exit(5)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    event("start args=%s" % ",".join(sys.argv[1:]))
    print("pppd_standin: started, pid %d" % pid, file=sys.stderr, flush=True)

    tun = None

    def link_up():
        # Like PPP, the link needs the peer: the interface comes once the
        # remote stand-in has spoken.
        fd = os.open("/dev/net/tun", os.O_RDWR)
        ifr = fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"wppp%d", IFF_TUN | IFF_NO_PI))
        name = ifr[:16].rstrip(b"\0").decode()
        subprocess.run(["ip", "addr", "add", addrs[0], "peer", addrs[1], "dev", name],
                       check=True, timeout=10)
        subprocess.run(["ip", "link", "set", name, "up"], check=True, timeout=10)
        event("iface %s" % name)
        print("pppd_standin: %s up, %s -> %s" % (name, addrs[0], addrs[1]), file=sys.stderr,
              flush=True)
        return fd

    hello = b"LOCAL-HELLO %d\n" % pid
    expect = b"REMOTE-HELLO\n"

    def writer():
        try:
            os.write(1, hello)
            for piece in wtools.stream_chunks(pid, "up", nbytes, 4096):
                view = memoryview(piece)
                while view:
                    n = os.write(1, view)
                    view = view[n:]
        except OSError as e:
            event("write-error %s" % e.errno)

    threading.Thread(target=writer, daemon=True).start()

    # The remote echoes all it gets, the hello included.
    want = expect + hello + b"".join(wtools.stream_chunks(pid, "up", nbytes))
    got = bytearray()
    reported = False
    deadline = time.monotonic() + LIFETIME
    hung_up = False
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(d, "exit-now")):
            os.unlink(os.path.join(d, "exit-now"))
            event("exit-now")
            os._exit(16)
        if hung_up:
            time.sleep(0.1)
            continue
        r, _, _ = select.select([0], [], [], 0.1)
        if not r:
            continue
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            # The pty was hung up (warren closed the master).
            event("hangup")
            if ignore_term:
                hung_up = True
                continue
            os._exit(16)
        got += data
        if tun is None and got.startswith(expect):
            tun = link_up()
        if not reported and len(got) >= len(want):
            reported = True
            if bytes(got[:len(want)]) == want:
                event("echo-ok %d" % nbytes)
            else:
                at = next(i for i in range(len(want)) if got[i] != want[i])
                event("echo-bad at=%d of=%d" % (at, len(want)))
    event("lifetime-over")
    os._exit(1)


if __name__ == "__main__":
    main()
