"""py_async_gather: an event loop done right. asyncio opens 8 HTTP requests at once (raw
asyncio streams, stdlib only) to a local service that takes 1.5 s to answer each
(workloads/corpus/_shared/slow_server.py in a child process) and gathers them. The 8 waits
overlap into one 1.5 s wait; the loop thread sleeps in epoll_wait() while the sockets are quiet.
Labels: io-bound, top wait `network` (the loop waits on sockets). First recommendation none:
the waits already overlap, and one 1.5 s wait cannot be split or overlapped further.
Must NOT report blocking-call-in-event-loop. Run from the repository root.
Prints: responses=8 bytes=16000 digest=<hex>"""

import asyncio
import hashlib
import sys

REQUESTS = 8
DELAY = 1.5


async def fetch(port, i):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /item/{i} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()  # HTTP/1.0: the server closes after the body
    writer.close()
    await writer.wait_closed()
    return raw.split(b"\r\n\r\n", 1)[1]


async def main():
    srv = await asyncio.create_subprocess_exec(
        sys.executable, "workloads/corpus/_shared/slow_server.py", "--delay", str(DELAY), "--lifetime", "10",
        "--stdin-eof", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    port = int(await srv.stdout.readline())
    bodies = await asyncio.gather(*(fetch(port, i) for i in range(REQUESTS)))
    srv.stdin.close()
    await srv.wait()
    h = hashlib.sha256(b"".join(bodies)).hexdigest()[:16]
    print(f"responses={len(bodies)} bytes={sum(map(len, bodies))} digest={h}")


asyncio.run(main())
