// node_fetch_then_compute, FIXED variant: the same 6 requests started together and awaited with
// Promise.all (overlapping the waits), then the same computation. Same output as main.js.
'use strict';
const { startServer, get } = require('../node_seq_await/main.js');
const { PAGES, finish } = require('./main.js');

(async () => {
  const { srv, port } = await startServer();
  finish(srv, await Promise.all(Array.from({ length: PAGES }, (_, i) => get(port, i))));
})();
