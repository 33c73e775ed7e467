'use strict';
// `require('express-torrent-tracker')` lands here only on a Node that cannot require() an ES module
// (before 20.19, or 22.0 to 22.11): Node 20.19+ and 22.12+ take the "module-sync" entry of
// package.json "exports" and load dist/index.js itself.
const error = new Error(
  'express-torrent-tracker is an ES module; on Node < 20.19 (or 22.0 to 22.11) load it with import() or upgrade Node',
);
error.code = 'ERR_REQUIRE_ESM';
throw error;
