"""py_idle_http_server: a Python service whose real work is on the main thread: ~1.5 s of
pure-Python computation (a polynomial hash). Meanwhile, like many services, it runs a status
HTTP server in a background thread (http.server.ThreadingHTTPServer.serve_forever, polling
every 0.5 s) that nobody calls, and a ThreadPoolExecutor of 4 workers that finished their warm-up
tasks at start and then wait on the executor's queue for the whole run.
Labels: cpu-bound, no significant wait. The work is one thread of pure Python with a spare CPU:
process-pool (split it across 2 processes, ~2x) or optimize-cpu (cheaper code) are both honest
first recommendations. Must NOT report gil-contention (the server thread only wakes 3 times),
lock-contention or blocking-call-in-event-loop from the idle threads.
Prints: result=<n>"""

import http.server
import threading
from concurrent.futures import ThreadPoolExecutor

N = 12_000_000


class Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Status)
server_thread = threading.Thread(target=srv.serve_forever, daemon=True)
server_thread.start()
pool = ThreadPoolExecutor(max_workers=4)
list(pool.map(abs, range(-4, 0)))  # warm-up: the 4 workers start, then idle

h = 0
for i in range(N):  # the real work
    h = (h * 31 + i) % 1_000_000_007

pool.shutdown()
# no srv.shutdown(): it would wait up to one poll interval (0.5 s); the daemon thread ends with the process
print(f"result={h}")
