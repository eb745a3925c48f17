// node_execsync_in_loop, FIXED variant: the same 10 jobs with the non-blocking
// child_process.execFile (promisified), so the loop stays free and the 10 commands run at once.
// Same output as main.js.
'use strict';
const { execFile } = require('child_process');
const { promisify } = require('util');
const { JOBS, args, tick, report } = require('./main.js');

const run = promisify(execFile);
async function job(i) {
  await tick();
  return (await run('sh', args(i))).stdout;
}
(async () => report(await Promise.all(Array.from({ length: JOBS }, (_, i) => job(i)))))();
