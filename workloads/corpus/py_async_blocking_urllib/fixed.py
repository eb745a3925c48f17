"""py_async_blocking_urllib, FIXED variant: the same 8 fetches, but each blocking urlopen runs in
a worker thread via asyncio.to_thread (a pool of 8 threads, one per request), so the event loop stays free and the waits overlap
(moving the blocking call off the loop). Same output as main.py. Run from the repository root."""

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import REQUESTS, blocking_fetch, finish, start_server  # noqa: E402


async def fetch(port, i):
    await asyncio.sleep(0.01)
    return await asyncio.to_thread(blocking_fetch, port, i)


async def main():
    # one worker per request (the default pool has min(32, CPUs + 4) = 6 workers here)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(REQUESTS))
    srv, port = await start_server()
    bodies = await asyncio.gather(*(fetch(port, i) for i in range(REQUESTS)))
    await finish(srv, bodies)


if __name__ == "__main__":
    asyncio.run(main())
