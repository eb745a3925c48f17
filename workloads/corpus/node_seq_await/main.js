// node_seq_await: async code that still runs sequentially. An async function fetches 10 URLs
// from a local HTTP service that takes 200 ms per answer (workloads/corpus/_shared/slow_server.py,
// a child process), but awaits each request before starting the next (`for ... await`), so the
// waits do not overlap: ~2 s of one-at-a-time network waits. Node's own threads (V8 platform
// workers, libuv pool) idle throughout.
// Labels: io-bound, top wait `network`, first recommendation async (start all the requests and
// await Promise.all). fixed.js does exactly that. Run from the repository root.
// Prints: responses=10 bytes=20000 digest=<hex>
'use strict';
const http = require('http');
const crypto = require('crypto');
const { spawn } = require('child_process');

const REQUESTS = 10;
const DELAY = 0.2;

function startServer() {
  const srv = spawn('python3', ['workloads/corpus/_shared/slow_server.py', '--delay', String(DELAY),
    '--lifetime', '10', '--stdin-eof'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    srv.stdout.once('data', (d) => resolve({ srv, port: parseInt(String(d), 10) }));
  });
}

function get(port, i) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/item/${i}`, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

function finish(srv, bodies) {
  srv.stdin.end();
  const h = crypto.createHash('sha256').update(Buffer.concat(bodies)).digest('hex').slice(0, 16);
  const bytes = bodies.reduce((a, b) => a + b.length, 0);
  console.log(`responses=${bodies.length} bytes=${bytes} digest=${h}`);
}

async function main() {
  const { srv, port } = await startServer();
  const bodies = [];
  for (let i = 0; i < REQUESTS; i++) bodies.push(await get(port, i)); // one at a time
  finish(srv, bodies);
}

module.exports = { REQUESTS, startServer, get, finish };
if (require.main === module) main();
