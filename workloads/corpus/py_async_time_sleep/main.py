"""py_async_time_sleep: an event loop done wrong with timers. 10 "jobs" are gathered on asyncio;
each awaits a short real pause on the loop (asyncio.sleep(0.01)), then calls time.sleep(0.18)
(a blocking back-off someone forgot to make async), then does a little arithmetic. The blocking
sleep stalls the loop, so the 10 back-offs run one after another (~1.9 s) instead of together.
Labels: io-bound, top wait `sleep`, finding blocking-call-in-event-loop, first recommendation
async (await asyncio.sleep instead; the waits are independent). fixed.py does exactly that.
Prints: jobs=10 total=<n>"""

import asyncio
import time

JOBS = 10
BACKOFF = 0.18


def work(i):
    return sum(j * j for j in range(i * 1000, i * 1000 + 1000))


async def job(i):
    await asyncio.sleep(0.01)
    time.sleep(BACKOFF)  # BUG: blocks the event loop
    return work(i)


async def main():
    results = await asyncio.gather(*(job(i) for i in range(JOBS)))
    print(f"jobs={len(results)} total={sum(results)}")


if __name__ == "__main__":
    asyncio.run(main())
