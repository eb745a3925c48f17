// node_cpu_in_loop, FIXED variant: the same 16 PBKDF2 derivations with the async crypto.pbkdf2,
// which runs them on libuv's thread pool (4 threads) in parallel over both CPUs, awaited with
// Promise.all. Same output as main.js.
'use strict';
const crypto = require('crypto');
const { promisify } = require('util');
const { JOBS, ITER, salt, report } = require('./main.js');

const pbkdf2 = promisify(crypto.pbkdf2);
(async () => {
  const keys = await Promise.all(
    Array.from({ length: JOBS }, (_, i) => pbkdf2(`password-${i}`, salt(i), ITER, 32, 'sha256')));
  report(keys);
})();
