"""fetch_then_compute.py: fetch 10 pages one after another from a local HTTP server that answers
each after 100 ms, then process them in pure Python for about a second. Stdlib only, 127.0.0.1
only, bounded. Expected: mixed (network waits, then CPU); threads or async would overlap the fetches."""

import hashlib
import http.server
import threading
import time
import urllib.request

DELAY_S = 0.1
PAGES = 10


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(DELAY_S)
        body = (self.path * 2000).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def fetch_all(port):
    pages = []
    for i in range(PAGES):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/page/{i}", timeout=10) as r:
            pages.append(r.read())
    return pages


def process(pages, seconds=1.0):
    end = time.monotonic() + seconds
    digest, rounds = b"", 0
    while time.monotonic() < end:
        for page in pages:
            digest = hashlib.sha256(digest + page[:64]).digest()
            digest = bytes(b ^ 0x5A for b in digest)
        rounds += 1
    return digest.hex()[:16], rounds


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    pages = fetch_all(server.server_address[1])
    t1 = time.monotonic()
    digest, rounds = process(pages)
    t2 = time.monotonic()
    server.shutdown()
    print(
        f"fetched={len(pages)} delay_s={DELAY_S} fetch_s={t1 - t0:.3f} "
        f"process_rounds={rounds} process_s={t2 - t1:.3f} digest={digest}"
    )


if __name__ == "__main__":
    main()
