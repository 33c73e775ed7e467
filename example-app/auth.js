// Who is asking: the admin (ADMIN_TOKEN, by a login form that sets an HttpOnly cookie, or by an
// `Authorization: Bearer <token>` header for scripts) and, in the private mode, the signed-up user
// (a session cookie, see users.js). And whether a POST comes from this site's own pages at all
// (sameOriginPosts, CsrfTokens).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const ADMIN_COOKIE = 'ett_admin';
export const SESSION_COOKIE = 'ett_session';
export const CSRF_COOKIE = 'ett_csrf';
const ADMIN_SESSION_MS = 12 * 3600_000;

/** The cookies of a request as a plain object (first value of a name wins). */
export function cookies(req) {
  const out = Object.create(null);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      /* a malformed value is no value */
    }
  }
  return out;
}

/** A Set-Cookie value: HttpOnly, SameSite, Secure behind https; `maxAge` 0 deletes it. */
export function cookie(name, value, { secure, path = '/', sameSite = 'Lax', maxAge } = {}) {
  return [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${path}`,
    'HttpOnly',
    `SameSite=${sameSite}`,
    ...(secure ? ['Secure'] : []),
    ...(maxAge !== undefined ? [`Max-Age=${maxAge}`] : []),
  ].join('; ');
}

const digest = (text) => createHash('sha256').update(String(text)).digest();

/**
 * The admin: `token` is ADMIN_TOKEN (undefined: admin disabled). Tokens are compared in constant
 * time (SHA-256 of both, then timingSafeEqual: neither the content nor the length leaks). A login
 * makes a random session id, kept in this process only (a restart logs the admin out).
 */
export class AdminAuth {
  constructor(token, { secure }) {
    this.enabled = Boolean(token);
    this.tokenDigest = token ? digest(token) : undefined;
    this.secure = secure;
    /** session id digest (hex) → expiry time. */
    this.sessions = new Map();
  }

  checkToken(given) {
    if (!this.enabled || typeof given !== 'string' || given === '') return false;
    return timingSafeEqual(digest(given), this.tokenDigest);
  }

  /** A new session: the Set-Cookie header value. */
  login() {
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(digest(id).toString('hex'), Date.now() + ADMIN_SESSION_MS);
    return cookie(ADMIN_COOKIE, id, { secure: this.secure, path: '/admin', sameSite: 'Strict', maxAge: ADMIN_SESSION_MS / 1000 });
  }

  logout(req) {
    const id = cookies(req)[ADMIN_COOKIE];
    if (id) this.sessions.delete(digest(id).toString('hex'));
    return cookie(ADMIN_COOKIE, '', { secure: this.secure, path: '/admin', sameSite: 'Strict', maxAge: 0 });
  }

  /** True when the request carries a valid admin cookie or `Authorization: Bearer <ADMIN_TOKEN>`. */
  isAdmin(req) {
    if (!this.enabled) return false;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (bearer) return this.checkToken(bearer[1]);
    const id = cookies(req)[ADMIN_COOKIE];
    if (!id) return false;
    const key = digest(id).toString('hex');
    const expires = this.sessions.get(key);
    if (expires === undefined) return false;
    if (expires < Date.now()) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }
}

/** Methods that change something: every one of them must come from this site's own pages. */
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Refuses (403) every POST (and PUT, PATCH, DELETE: the admin API's) that a browser says comes from
 * another origin: `Sec-Fetch-Site` other than
 * `same-origin` or `none`, or an `Origin` that is not this site's (`allowed`: PUBLIC_URL's origin, and
 * the origin the request was addressed to). Another port of the same host is another origin (though
 * the same *site*, so SameSite cookies alone do not stop it). Requests without either header (scripts
 * with a bearer token, old browsers) pass here; the forms' CSRF token covers those browsers.
 */
export function sameOriginPosts({ publicUrl } = {}) {
  return (req, res, next) => {
    if (!UNSAFE.has(req.method)) return next();
    const fetchSite = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const own = new Set([`${req.protocol}://${req.get('host')}`, ...(publicUrl ? [new URL(publicUrl).origin] : [])]);
    const crossSite = (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') || (origin !== undefined && !own.has(origin));
    if (!crossSite) return next();
    res.status(403).set('Cache-Control', 'no-store').type('text/plain').send('refused: this form was sent from another site\n');
  };
}

/**
 * CSRF tokens of the private mode's forms (synchronizer tokens bound to a browser): every visitor gets
 * a random CSRF cookie (HttpOnly, SameSite=Strict) on its first page; each form carries
 * HMAC(server secret, that cookie) in a hidden field, and a POST must send both, matching. A page of
 * another origin can make the browser send the cookie but cannot read the token. The secret lives in
 * this process: a restart only asks for a form to be sent again.
 */
export class CsrfTokens {
  constructor({ secure }) {
    this.secret = randomBytes(32);
    this.secure = secure;
  }

  /** Middleware: `req.csrfToken` for the pages' forms; sets the cookie when the browser has none. */
  issue() {
    return (req, res, next) => {
      let id = cookies(req)[CSRF_COOKIE];
      if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(id)) {
        id = randomBytes(32).toString('base64url');
        res.append('Set-Cookie', cookie(CSRF_COOKIE, id, { secure: this.secure, sameSite: 'Strict' }));
      }
      req.csrfToken = this.token(id);
      next();
    };
  }

  token(id) {
    return createHmac('sha256', this.secret).update(`csrf:${id}`).digest('base64url');
  }

  /** True when the form's `_csrf` field matches this browser's cookie. */
  check(req) {
    const id = cookies(req)[CSRF_COOKIE];
    const given = req.body?._csrf;
    if (typeof id !== 'string' || typeof given !== 'string') return false;
    const a = Buffer.from(this.token(id));
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
