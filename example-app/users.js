// Accounts of the private mode, in SQLite (SQLITE_FILE): users with their passkey, login sessions, and
// per user and torrent the traffic the tracker credits (onTraffic). Session cookies are random
// tokens; only their SHA-256 is stored. Passkeys are 128 random bits as 32 hex digits.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sqlite3 from 'sqlite3';

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS users (
  id         INTEGER PRIMARY KEY,             -- 1, 2, …: 0 is the site's own seeder (never stored)
  name       TEXT NOT NULL UNIQUE,
  passkey    TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  token_sha256 TEXT PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
  created_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS user_torrents (
  user_id      INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
  info_hash    TEXT NOT NULL,
  uploaded     INTEGER NOT NULL DEFAULT 0,    -- credited bytes
  downloaded   INTEGER NOT NULL DEFAULT 0,
  seed_seconds REAL NOT NULL DEFAULT 0,
  completed    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, info_hash)
);
CREATE TABLE IF NOT EXISTS revoked_passkeys (  -- passkeys the admin revoked (POST /admin/api/passkeys/revoke)
  passkey_sha256 TEXT PRIMARY KEY,
  user_id        INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,
  revoked_at     INTEGER NOT NULL
);`;

// One statement per batch, so a batch counts entirely or not at all (the tracker hands a failed batch
// over again). Records of unknown users (the site's seeder, user 0) are left out.
const TRAFFIC_SQL = `
INSERT INTO user_torrents AS ut (user_id, info_hash, uploaded, downloaded, seed_seconds, completed)
SELECT r.value ->> '$.user', r.value ->> '$.infoHash', r.value ->> '$.uploaded', r.value ->> '$.downloaded',
       r.value ->> '$.seedSeconds', r.value ->> '$.completed'
FROM json_each(?) AS r JOIN users u ON u.id = r.value ->> '$.user'
WHERE true
ON CONFLICT (user_id, info_hash) DO UPDATE SET
  uploaded     = ut.uploaded + excluded.uploaded,
  downloaded   = ut.downloaded + excluded.downloaded,
  seed_seconds = ut.seed_seconds + excluded.seed_seconds,
  completed    = ut.completed + excluded.completed`;

/** Sessions last a year (the cookie's Max-Age too). */
export const SESSION_MS = 365 * 24 * 3600_000;
export const NAME_RULE = /^[A-Za-z0-9_.-]{2,32}$/;
export const SITE_USER = 0;

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
export const newPasskey = () => randomBytes(16).toString('hex');

export class Users {
  static async open(file) {
    mkdirSync(path.dirname(file), { recursive: true });
    const db = await new Promise((resolve, reject) => {
      const d = new sqlite3.Database(file, (error) => (error ? reject(error) : resolve(d)));
    });
    const users = new Users(db);
    await new Promise((resolve, reject) => db.exec(SCHEMA, (error) => (error ? reject(error) : resolve())));
    return users;
  }

  constructor(db) {
    this.db = db;
  }

  run(sql, params = []) {
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function done(error) {
        if (error) reject(error);
        else resolve({ lastID: this.lastID, changes: this.changes });
      }),
    );
  }

  get(sql, params = []) {
    return new Promise((resolve, reject) => this.db.get(sql, params, (error, row) => (error ? reject(error) : resolve(row))));
  }

  all(sql, params = []) {
    return new Promise((resolve, reject) => this.db.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows))));
  }

  /** A new user and a session for them: `{ user, token }`; rejects with code 'NAME_TAKEN'. */
  async signUp(name) {
    const passkey = newPasskey();
    let id;
    try {
      ({ lastID: id } = await this.run('INSERT INTO users (name, passkey, created_at) VALUES (?, ?, ?)', [name, passkey, Date.now()]));
    } catch (error) {
      if (error.code === 'SQLITE_CONSTRAINT') throw Object.assign(new Error('that name is taken'), { code: 'NAME_TAKEN' });
      throw error;
    }
    return { user: { id, name, passkey }, token: await this.newSession(id) };
  }

  /**
   * Sign in again with name and passkey: `{ user, token }` (a new session), or undefined when they do
   * not match. The passkeys are compared in constant time (their SHA-256, then timingSafeEqual).
   */
  async signIn(name, passkey) {
    if (typeof name !== 'string' || typeof passkey !== 'string' || passkey.length > 100) return undefined;
    const row = await this.get('SELECT id, name, passkey FROM users WHERE name = ?', [name]);
    const given = createHash('sha256').update(passkey).digest();
    const expected = createHash('sha256').update(row?.passkey ?? newPasskey()).digest();
    if (!timingSafeEqual(given, expected) || !row) return undefined;
    return { user: row, token: await this.newSession(row.id) };
  }

  async newSession(userId) {
    const token = randomBytes(32).toString('base64url');
    await this.run('INSERT INTO sessions (token_sha256, user_id, created_at) VALUES (?, ?, ?)', [sha256(token), userId, Date.now()]);
    return token;
  }

  /** The user of a session cookie, or undefined. */
  async bySession(token) {
    if (typeof token !== 'string' || token.length > 100) return undefined;
    return this.get('SELECT u.id, u.name, u.passkey FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = ? AND s.created_at > ?', [
      sha256(token),
      Date.now() - SESSION_MS,
    ]);
  }

  async endSession(token) {
    if (typeof token === 'string') await this.run('DELETE FROM sessions WHERE token_sha256 = ?', [sha256(token)]);
  }

  /** The tracker's `passkey` function: the user id of a passkey, or undefined. */
  async userIdByPasskey(passkey) {
    return (await this.get('SELECT id FROM users WHERE passkey = ?', [passkey]))?.id;
  }

  /** A new passkey for a user; resolves with the old one (to forget in the tracker). */
  async renewPasskey(userId) {
    const old = (await this.get('SELECT passkey FROM users WHERE id = ?', [userId]))?.passkey;
    await this.run('UPDATE users SET passkey = ? WHERE id = ?', [newPasskey(), userId]);
    // The member chose this one: the account page's notice of an admin's revocation ends.
    await this.run('DELETE FROM revoked_passkeys WHERE user_id = ?', [userId]);
    return old;
  }

  /**
   * The admin revoked a passkey: its member gets a new one (shown on their account page with a
   * notice), the old one signs in and announces no more. Resolves with the member's id, or undefined
   * when no member has that passkey. Only the SHA-256 of the revoked passkey is kept.
   */
  async revokePasskey(passkey) {
    if (typeof passkey !== 'string' || !/^[0-9a-f]{32}$/.test(passkey)) return undefined;
    const row = await this.get('SELECT id FROM users WHERE passkey = ?', [passkey]);
    if (!row) return undefined;
    await this.run('UPDATE users SET passkey = ? WHERE id = ? AND passkey = ?', [newPasskey(), row.id, passkey]);
    await this.run('INSERT OR REPLACE INTO revoked_passkeys (passkey_sha256, user_id, revoked_at) VALUES (?, ?, ?)', [sha256(passkey), row.id, Date.now()]);
    return row.id;
  }

  /** When the admin last revoked a passkey of this user (ms), or undefined. */
  async lastRevocation(userId) {
    return (await this.get('SELECT MAX(revoked_at) AS at FROM revoked_passkeys WHERE user_id = ?', [userId]))?.at ?? undefined;
  }

  /** The tracker's `onTraffic`: add a batch of records (one statement). */
  async addTraffic(records) {
    await this.run(TRAFFIC_SQL, [JSON.stringify(records)]);
  }

  /** One user's traffic, per torrent and in total. */
  async traffic(userId) {
    const rows = await this.all(
      'SELECT info_hash AS infoHash, uploaded, downloaded, seed_seconds AS seedSeconds, completed FROM user_torrents WHERE user_id = ? ORDER BY info_hash',
      [userId],
    );
    const total = rows.reduce((t, r) => ({ uploaded: t.uploaded + r.uploaded, downloaded: t.downloaded + r.downloaded }), { uploaded: 0, downloaded: 0 });
    return { rows, total };
  }

  close() {
    return new Promise((resolve) => this.db.close(() => resolve()));
  }
}
