#!/usr/bin/env python3
"""ppp_remote_standin.py DIR: stands in for the gateway's pppd in ppp-ssh
tests (run by sshd as remote_command).

Writes "REMOTE-HELLO\\n" to stdout, then echoes every byte of stdin back,
as a peer that answers. Speaks on stderr ("remote standin: started"), which
warren must keep apart from the data. Obeys DIR/remote-exit-now: says
"remote standin: told to exit" on stderr and exits 3. Ends with 0 at EOF.
Records its start and end in DIR/events. Exits by itself after 300 s.
"""

import os
import select
import sys
import time

LIFETIME = 300


def main():
    d = sys.argv[1]
    pid = os.getpid()

    def event(text):
        with open(os.path.join(d, "events"), "a") as f:
            f.write("%s %d\n" % (text, pid))

    event("remote-start")
    os.write(2, b"remote standin: started\n")
    out = b"REMOTE-HELLO\n"
    deadline = time.monotonic() + LIFETIME
    eof = False
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(d, "remote-exit-now")):
            os.unlink(os.path.join(d, "remote-exit-now"))
            event("remote-exit 3")
            os.write(2, b"remote standin: told to exit\n")
            os._exit(3)
        if eof and not out:
            event("remote-exit 0")
            os._exit(0)
        r, w, _ = select.select([] if eof or len(out) > 1 << 20 else [0], [1] if out else [],
                                [], 0.1)
        if w:
            n = os.write(1, out[:65536])
            out = out[n:]
        if r:
            data = os.read(0, 65536)
            if not data:
                eof = True
            out += data
    event("remote-lifetime-over")
    os._exit(1)


if __name__ == "__main__":
    main()
