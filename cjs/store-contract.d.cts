// Types for `require('express-torrent-tracker/store-contract')` in CommonJS TypeScript projects.
export * from '../dist/swarm/contract/index.js';
