// Types for `require('express-torrent-tracker')` in CommonJS TypeScript projects (module node16 or
// nodenext): the same API as the ES module, which Node 20.19+ and 22.12+ load through require().
export * from '../dist/index.js';
