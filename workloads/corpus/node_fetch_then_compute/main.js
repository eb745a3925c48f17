// node_fetch_then_compute: fetch, then compute, in Node. Awaits 6 HTTP requests one after another
// from a local service that takes 150 ms per answer (workloads/corpus/_shared/slow_server.py, a
// child process): ~0.9 s of network waits. Then it derives a key from every page with
// crypto.pbkdf2Sync on the main thread: ~0.9 s of CPU. Neither side dominates.
// Labels: mixed, top wait `network`. First recommendation async (start the 6 requests together
// and await Promise.all: saves ~0.75 s) ahead of moving the CPU part to the thread pool (~0.45 s
// on 2 CPUs). fixed.js fetches with Promise.all and computes the same way.
// Run from the repository root. Prints: pages=6 digest=<hex>
'use strict';
const crypto = require('crypto');
const { startServer, get } = require('../node_seq_await/main.js');

const PAGES = 6;
const ITER = 720000;

function finish(srv, pages) {
  srv.stdin.end();
  const keys = pages.map((p, i) => crypto.pbkdf2Sync(p, `salt-${i}`, ITER, 32, 'sha256'));
  const h = crypto.createHash('sha256').update(Buffer.concat(keys)).digest('hex').slice(0, 16);
  console.log(`pages=${pages.length} digest=${h}`);
}

module.exports = { PAGES, finish };
if (require.main === module) {
  (async () => {
    const { srv, port } = await startServer();
    const pages = [];
    for (let i = 0; i < PAGES; i++) pages.push(await get(port, i)); // one at a time
    finish(srv, pages);
  })();
}
