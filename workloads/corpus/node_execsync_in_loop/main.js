// node_execsync_in_loop: a blocking call inside the event loop. An async job runner handles 10
// jobs; each handler awaits a short timer on the loop (10 ms) and then runs an external command
// with child_process.execFileSync (`sh -c 'sleep 0.15; echo ...'`, standing in for a slow CLI
// tool such as a VCS or an image converter). execFileSync blocks the main thread until the child
// exits (Node waits on a private epoll instance for the child's pipes), so the whole loop stalls
// and the 10 commands run one after another.
// Labels: io-bound, top wait `sleep` (the wait on the child resolves to the child's timer),
// finding blocking-call-in-event-loop, first recommendation async (the non-blocking
// child_process.execFile, awaited together). fixed.js does exactly that.
// Prints: jobs=10 output=<digest>
'use strict';
const crypto = require('crypto');
const { execFileSync } = require('child_process');

const JOBS = 10;
const args = (i) => ['-c', `sleep 0.15; echo job-${i}-done`];
const tick = () => new Promise((r) => setTimeout(r, 10));

function report(outputs) {
  const h = crypto.createHash('sha256').update(outputs.join('')).digest('hex').slice(0, 16);
  console.log(`jobs=${outputs.length} output=${h}`);
}

async function job(i) {
  await tick();
  return execFileSync('sh', args(i)).toString(); // BUG: blocks the event loop
}

module.exports = { JOBS, args, tick, report };
if (require.main === module) {
  (async () => report(await Promise.all(Array.from({ length: JOBS }, (_, i) => job(i)))))();
}
