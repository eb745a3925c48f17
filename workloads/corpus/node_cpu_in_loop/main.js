// node_cpu_in_loop: CPU work on the event loop. A job runner derives 16 password hashes with
// crypto.pbkdf2Sync (PBKDF2-SHA256) inside its async job handler, so the main thread computes
// them one after another while the second CPU and libuv's 4 pool threads sit idle.
// Labels: cpu-bound, no significant wait. First recommendation thread-pool (libuv pool /
// worker_threads: run the hashes off the main thread, in parallel) or process-pool. fixed.js
// uses the async crypto.pbkdf2, which runs on libuv's thread pool, and awaits Promise.all.
// Prints: hashes=16 digest=<hex>
'use strict';
const crypto = require('crypto');

const JOBS = 16;
const ITER = 480000;
const salt = (i) => `salt-${i}`;

function report(keys) {
  const h = crypto.createHash('sha256').update(Buffer.concat(keys)).digest('hex').slice(0, 16);
  console.log(`hashes=${keys.length} digest=${h}`);
}

async function job(i) {
  await null; // an async handler...
  return crypto.pbkdf2Sync(`password-${i}`, salt(i), ITER, 32, 'sha256'); // ...that blocks on CPU
}

module.exports = { JOBS, ITER, salt, report };
if (require.main === module) {
  (async () => {
    const keys = [];
    for (let i = 0; i < JOBS; i++) keys.push(await job(i));
    report(keys);
  })();
}
