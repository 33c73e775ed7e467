// File uploads of the admin page: multer (busboy underneath) writes the upload into UPLOADS_DIR under
// a hidden temporary name (dotfiles are never published nor served by the web seed), bounded by
// MAX_UPLOAD_BYTES; the file then gets its safe final name and is published.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { access, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import multer from 'multer';

const MAX_NAME_BYTES = 200;

/**
 * A safe file name from what the browser sent, or undefined: the last path component only (a name
 * like `../../x` or `C:\x` keeps its base name), letters (any script), digits, space and `._-+()`
 * (anything else becomes `_`), no leading dot or space (no hidden files), at most 200 bytes.
 */
export function safeFileName(original) {
  if (typeof original !== 'string') return undefined;
  let name = original.normalize('NFC').split(/[/\\]/).pop() ?? '';
  name = name.replace(/[^\p{L}\p{N} ._\-+()]/gu, '_').replace(/\s+/g, ' ').trim().replace(/^[.\s]+/, '');
  while (Buffer.byteLength(name) > MAX_NAME_BYTES) name = name.slice(0, -1);
  name = name.trim();
  if (name === '' || name === '.' || name === '..') return undefined;
  return name;
}

/** The multer middleware for one file in the field `file`. */
export function uploadMiddleware({ uploadsDir, maxBytes }) {
  mkdirSync(uploadsDir, { recursive: true });
  return multer({
    storage: multer.diskStorage({
      destination: uploadsDir,
      filename: (req, file, cb) => cb(null, `.incoming-${randomBytes(12).toString('hex')}`),
    }),
    limits: { fileSize: maxBytes, files: 1, fields: 4, fieldSize: 1024, parts: 5 },
  }).single('file');
}

/**
 * Move an upload (its temporary file) to `uploadsDir/name`. Rejects with code 'EEXIST' when the name
 * exists; never writes outside `uploadsDir`.
 */
export async function keepUpload(tempPath, uploadsDir, name) {
  const target = path.resolve(uploadsDir, name);
  if (path.dirname(target) !== path.resolve(uploadsDir)) throw new Error('unsafe file name');
  const exists = await access(target).then(
    () => true,
    () => false,
  );
  if (exists) throw Object.assign(new Error(`${name} exists already`), { code: 'EEXIST' });
  await rename(tempPath, target);
  return target;
}

export async function discard(tempPath) {
  if (tempPath) await unlink(tempPath).catch(() => undefined);
}
