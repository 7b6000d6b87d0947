#!/usr/bin/env python3
"""delay_proxy.py: a TCP proxy that makes a long path on loopback.

Listens on 127.0.0.1 (a free port, written to --port-file) and connects each
client to 127.0.0.1:--target; every byte is held --delay-ms in each
direction before it is passed on, so a round trip through the proxy takes
twice that. Data is read as it comes (no flow control of its own beyond
the delay): what it holds is what is in flight on such a path.

  delay_proxy.py --port-file F --target PORT --delay-ms MS [--max-seconds S]
"""

import argparse
import asyncio
import sys

import wtools


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def take():
        while True:
            data = await reader.read(262144)
            await queue.put((loop.time() + delay, data))
            if not data:
                return

    async def give():
        while True:
            when, data = await queue.get()
            wait = when - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                try:
                    writer.write_eof()
                except OSError:
                    pass
                return
            writer.write(data)
            await writer.drain()

    await asyncio.gather(take(), give(), return_exceptions=True)


async def main_async(args):
    delay = args.delay_ms / 1000.0

    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection("127.0.0.1", args.target)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, delay), pipe(sr, cw, delay), return_exceptions=True)
        cw.close()
        sw.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    wtools.write_atomic(args.port_file, "%d\n" % srv.sockets[0].getsockname()[1])
    async with srv:
        await asyncio.sleep(args.max_seconds)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port-file", required=True)
    p.add_argument("--target", type=int, required=True)
    p.add_argument("--delay-ms", type=float, required=True)
    p.add_argument("--max-seconds", type=float, default=600.0)
    args = p.parse_args()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
