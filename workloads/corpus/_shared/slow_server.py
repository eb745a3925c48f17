"""slow_server.py: a local HTTP server for the corpus workloads, standing in for "a slow service".

Not a workload itself. Usage: python3 slow_server.py [--delay S] [--requests N] [--lifetime S]
Binds 127.0.0.1 on a free port, prints "PORT\n" on stdout once listening, then answers every
GET after sleeping --delay seconds (or ?delay=S from the query string) with a deterministic body
of 2000 bytes derived from the path. Serves requests concurrently (one thread each), so a client
that overlaps its requests gets its answers overlapped too. It stops on its own: after serving
--requests answers (when given), when --lifetime seconds have passed (default 12), or when its
stdin reaches EOF (the parent closed the pipe or died) if --stdin-eof is given.
"""

import argparse
import http.server
import os
import sys
import threading
import time
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--delay", type=float, default=0.2)
ap.add_argument("--requests", type=int, default=0)
ap.add_argument("--lifetime", type=float, default=12.0)
ap.add_argument("--stdin-eof", action="store_true")
args = ap.parse_args()

served = 0
served_lock = threading.Lock()
done = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        global served
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        time.sleep(float(q.get("delay", [args.delay])[0]))
        body = (self.path.encode() * (2000 // max(1, len(self.path)) + 1))[:2000]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with served_lock:
            served += 1
            if args.requests and served >= args.requests:
                done.set()

    def log_message(self, *a):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128  # the default backlog (5) drops SYNs when many clients connect at once


srv = Server(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
sys.stdout.write(f"{srv.server_address[1]}\n")
sys.stdout.flush()

if args.stdin_eof:
    def watch_stdin():
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        done.set()
    threading.Thread(target=watch_stdin, daemon=True).start()

done.wait(args.lifetime)
time.sleep(0.02)  # let the last response leave the socket
os._exit(0)
