#!/usr/bin/env python3
"""close_watch.py: connect, send nothing, and time the end (loopback only).

Connects to 127.0.0.1:--port and waits until the connection ends or
--max-seconds pass. Prints "eof SECONDS", "rst SECONDS", "data SECONDS"
(bytes came instead) or "open SECONDS" (still open at the limit), counted
from the connect; exits 0 in every case but a failed connect.

  close_watch.py --port P [--max-seconds S]
"""

import argparse
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-seconds", type=float, default=60.0)
    args = p.parse_args()

    s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    start = time.monotonic()
    s.settimeout(args.max_seconds)
    try:
        end = "data" if s.recv(100) else "eof"
    except ConnectionResetError:
        end = "rst"
    except socket.timeout:
        end = "open"
    finally:
        s.close()
    print("%s %.1f" % (end, time.monotonic() - start), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
