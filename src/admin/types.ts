/**
 * The admin API's request and response bodies, as TypeScript types. They match the JSON Schemas of
 * its OpenAPI document (src/admin/openapi.ts) one for one; the tests check samples of each against
 * the document. Info hashes are lowercase hex; dates are ISO 8601 strings (UTC).
 */
import type { TrackerStats } from '../stats/counters.js';

/** Credit factors of a torrent (absent: 1). Freeleech is `downloadFactor: 0`. */
export interface AdminTorrentRules {
  uploadFactor?: number;
  downloadFactor?: number;
}

/** Live counts of a torrent or a swarm. */
export interface AdminCounts {
  /** Seeders. */
  complete: number;
  /** Leechers. */
  incomplete: number;
  /** Completed downloads. */
  downloaded: number;
}

/** A registered torrent with its rules and live counts (a hybrid torrent is one torrent). */
export interface AdminTorrent {
  /** The v1 info hash (40 hex digits); for a v2-only torrent, its v2 hash cut to 20 bytes. */
  infoHash: string;
  /** A hybrid torrent's v2 info hash (64 hex digits). */
  infoHashV2?: string;
  rules: AdminTorrentRules;
  counts: AdminCounts;
}

/** One swarm of a torrent: a hybrid torrent announces in two. */
export interface AdminSwarm {
  /** The hash peers announce with (40 hex digits; a v2 hash cut to 20 bytes). */
  infoHash: string;
  /** A hybrid torrent's swarms only: `v1` for the v1 info hash, `v2` for the cut v2 hash. */
  protocol?: 'v1' | 'v2';
  counts: AdminCounts;
}

/** `GET /torrents/{infoHash}`: a torrent and each of its swarms. */
export interface AdminTorrentDetail extends AdminTorrent {
  swarms: AdminSwarm[];
}

/** `GET /torrents`: one page of registered torrents. */
export interface AdminTorrentPage {
  /** Registered torrents in all. */
  total: number;
  offset: number;
  limit: number;
  torrents: AdminTorrent[];
}

/** `POST /torrents`: register a torrent (an info hash, or a hybrid pair) with its rules. */
export interface AdminRegisterTorrentBody {
  /** 40 hex digits: a v1 info hash (or a v2 hash cut to 20 bytes). */
  infoHash: string;
  /** A hybrid torrent's v2 info hash (64 hex digits): both swarms are registered as one torrent. */
  infoHashV2?: string;
  rules?: AdminTorrentRules;
}

/** `PATCH /torrents/{infoHash}`: change rules; a factor set to `null` goes back to the default (1). */
export interface AdminUpdateTorrentBody {
  rules: { uploadFactor?: number | null; downloadFactor?: number | null };
}

/** A peer of a torrent, for an administrator. */
export interface AdminApiPeer {
  /** The swarm it announced in (40 hex digits). */
  infoHash: string;
  /** Its peer id as 40 hex digits. */
  peerId: string;
  /** The client named by its peer id, when known (`qBittorrent 4.6.2`). */
  client?: string;
  /** Its address (empty for a WebTorrent peer). */
  ip: string;
  port: number;
  seeder: boolean;
  /** When it last announced. */
  lastAnnounce?: string;
  /** Its user (private mode). */
  user?: string | number;
  /** A WebTorrent (browser) peer: no address (`ip` is empty, `port` 0). */
  webrtc?: boolean;
}

/** `GET /torrents/{infoHash}/peers`: one page of a torrent's peers. */
export interface AdminPeerPage {
  total: number;
  offset: number;
  limit: number;
  peers: AdminApiPeer[];
}

/** `POST /passkeys/revoke`: drop a passkey's cached answer on every instance. */
export interface AdminRevokePasskeyBody {
  passkey: string;
}

/** `POST /bans`: exactly one of `address`, `user`, `client`. */
export interface AdminBanBody {
  /** An IPv4 or IPv6 address, or a CIDR block (`203.0.113.0/24`, `2001:db8::/32`). */
  address?: string;
  /** A user id (private mode). */
  user?: string | number;
  /** A peer id prefix (`-XL0012-`). */
  client?: string;
  /** When the ban ends (absent: never). */
  expiresAt?: string;
  /** Why: told to the banned peer in its failure reason. */
  reason?: string;
}

/** A ban. */
export interface AdminBan {
  id: string;
  address?: string;
  user?: string | number;
  client?: string;
  expiresAt?: string;
  reason?: string;
  createdAt: string;
}

/** `GET /bans`. */
export interface AdminBanList {
  bans: AdminBan[];
}

/** `GET /stats`: what `tracker.stats()` gives (swarm totals are absent when the store cannot count). */
export type AdminStats = TrackerStats;

/** Every error: RFC 9457 problem details, served as `application/problem+json`. */
export interface AdminProblem {
  /** A URI naming the kind of problem (`tag:express-torrent-tracker,2026:problem:invalid-request`). */
  type: string;
  title: string;
  status: number;
  /** What went wrong with this request, for people. */
  detail: string;
  /** The request path. */
  instance?: string;
  /** The invalid parts of a 400 request. */
  errors?: Array<{ pointer?: string; parameter?: string; detail: string }>;
}

/** Options of {@link trackerAdmin}. */
export interface TrackerAdminOptions {
  /** Largest accepted request body in bytes. Default 16 384; at most 1 MiB. */
  bodyLimit?: number;
  /**
   * Called with the cause of every 5xx answer (a store that failed or timed out, a bug), since the
   * answer itself only says what kind of failure it was. Default: none.
   */
  onError?: (error: unknown) => void;
  /**
   * Amend the document served at `openapi.json` (a fresh copy each time), e.g. to describe the
   * authentication the site puts in front of the router (`components.securitySchemes`, `security`).
   */
  openapi?: (document: Record<string, unknown>) => Record<string, unknown>;
}
