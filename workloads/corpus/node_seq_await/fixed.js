// node_seq_await, FIXED variant: the same 10 requests, all started at once and awaited with
// Promise.all, so the 200 ms waits overlap. Same output as main.js. Run from the repository root.
'use strict';
const { REQUESTS, startServer, get, finish } = require('./main.js');

(async () => {
  const { srv, port } = await startServer();
  const bodies = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => get(port, i)));
  finish(srv, bodies);
})();
