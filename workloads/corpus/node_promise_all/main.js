// node_promise_all: an event loop done right. 12 HTTP requests to a local service that takes
// 1.5 s per answer (workloads/corpus/_shared/slow_server.py, a child process) are all started at
// once and awaited with Promise.all; the main thread sits in epoll_pwait() while the sockets are
// quiet, and Node's housekeeping threads idle.
// Labels: io-bound, top wait `network`, first recommendation none: the waits already overlap
// into one 1.5 s wait that cannot be split. Must NOT report blocking-call-in-event-loop.
// Run from the repository root. Prints: responses=12 bytes=24000 digest=<hex>
'use strict';
const http = require('http');
const crypto = require('crypto');
const { spawn } = require('child_process');

const REQUESTS = 12;

const srv = spawn('python3', ['workloads/corpus/_shared/slow_server.py', '--delay', '1.5',
  '--lifetime', '10', '--stdin-eof'], { stdio: ['pipe', 'pipe', 'inherit'] });

function get(port, i) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: `/item/${i}`, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    }).on('error', reject);
  });
}

srv.stdout.once('data', async (d) => {
  const port = parseInt(String(d), 10);
  const bodies = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => get(port, i)));
  srv.stdin.end();
  const h = crypto.createHash('sha256').update(Buffer.concat(bodies)).digest('hex').slice(0, 16);
  console.log(`responses=${bodies.length} bytes=${bodies.reduce((a, b) => a + b.length, 0)} digest=${h}`);
});
