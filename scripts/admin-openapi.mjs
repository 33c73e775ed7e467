// Build step: write the admin API's OpenAPI document to dist/admin/openapi.json (shipped in the
// package as `express-torrent-tracker/admin/openapi.json`), from the object the router serves.
import { writeFileSync } from 'node:fs';
import { adminOpenApiDocument } from '../dist/admin/openapi.js';

writeFileSync(new URL('../dist/admin/openapi.json', import.meta.url), `${JSON.stringify(adminOpenApiDocument(), null, 2)}\n`);
