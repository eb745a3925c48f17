"""py_async_time_sleep, FIXED variant: the same 10 jobs with the back-off awaited on the loop
(await asyncio.sleep), so the 10 waits overlap. Same output as main.py."""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from main import BACKOFF, JOBS, work  # noqa: E402


async def job(i):
    await asyncio.sleep(0.01)
    await asyncio.sleep(BACKOFF)
    return work(i)


async def main():
    results = await asyncio.gather(*(job(i) for i in range(JOBS)))
    print(f"jobs={len(results)} total={sum(results)}")


if __name__ == "__main__":
    asyncio.run(main())
