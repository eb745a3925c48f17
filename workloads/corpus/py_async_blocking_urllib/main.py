"""py_async_blocking_urllib: an event loop done wrong. 8 coroutines are gathered, each waits a
little on the loop (await asyncio.sleep(0.01), a polite pause) and then calls the BLOCKING
urllib.request.urlopen() on a local service that takes 0.25 s to answer. The blocking call
stalls the whole loop, so the 8 fetches run one after another (8 x 0.25 s) although the code
"looks" concurrent. The loop thread alternates between epoll_wait() and long recv() waits.
Labels: io-bound, top wait `network`, finding blocking-call-in-event-loop, first recommendation
async or thread-pool (an async client, or asyncio.to_thread). fixed.py moves each urlopen off the
loop with asyncio.to_thread, so the 8 waits overlap. Run from the repository root.
Prints: responses=8 bytes=16000 digest=<hex>"""

import asyncio
import hashlib
import sys
import urllib.request

REQUESTS = 8
DELAY = 0.25


def blocking_fetch(port, i):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/item/{i}", timeout=10) as r:
        return r.read()


async def fetch(port, i):
    await asyncio.sleep(0.01)
    return blocking_fetch(port, i)  # BUG: blocks the event loop


async def start_server():
    srv = await asyncio.create_subprocess_exec(
        sys.executable, "workloads/corpus/_shared/slow_server.py", "--delay", str(DELAY), "--lifetime", "10",
        "--stdin-eof", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    return srv, int(await srv.stdout.readline())


async def finish(srv, bodies):
    srv.stdin.close()
    await srv.wait()
    h = hashlib.sha256(b"".join(bodies)).hexdigest()[:16]
    print(f"responses={len(bodies)} bytes={sum(map(len, bodies))} digest={h}")


async def main():
    srv, port = await start_server()
    bodies = await asyncio.gather(*(fetch(port, i) for i in range(REQUESTS)))
    await finish(srv, bodies)


if __name__ == "__main__":
    asyncio.run(main())
