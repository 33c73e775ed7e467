/**
 * The tracker's values as the admin API's JSON bodies: only the fields the document names, dates as
 * ISO strings.
 */
import type { Ban } from '../policy/bans.js';
import type { PeerListPage } from '../tracker.js';
import type { TorrentRules } from '../types.js';
import type { AdminApiPeer, AdminBan, AdminCounts, AdminTorrentRules } from './types.js';

const iso = (value: number | Date): string => new Date(value).toISOString();

export function rulesOut(rules: TorrentRules | undefined): AdminTorrentRules {
  const out: AdminTorrentRules = {};
  if (rules?.uploadFactor !== undefined) out.uploadFactor = rules.uploadFactor;
  if (rules?.downloadFactor !== undefined) out.downloadFactor = rules.downloadFactor;
  return out;
}

export const countsOut = (c: AdminCounts): AdminCounts => ({ complete: c.complete, incomplete: c.incomplete, downloaded: c.downloaded });

export function banOut(ban: Ban): AdminBan {
  const out: AdminBan = { id: String(ban.id), createdAt: iso(ban.createdAt) };
  if (ban.address !== undefined) out.address = ban.address;
  if (ban.user !== undefined) out.user = ban.user;
  if (ban.client !== undefined) out.client = ban.client;
  if (ban.expiresAt !== undefined) out.expiresAt = iso(ban.expiresAt);
  if (ban.reason !== undefined) out.reason = ban.reason;
  return out;
}

export function peerOut(p: PeerListPage['peers'][number]): AdminApiPeer {
  const out: AdminApiPeer = { infoHash: p.infoHash, peerId: p.peerId, ip: p.ip, port: p.port, seeder: p.seeder };
  if (p.client !== undefined) out.client = p.client;
  if (p.lastAnnounce !== undefined) out.lastAnnounce = iso(p.lastAnnounce);
  if (p.user !== undefined) out.user = p.user;
  if (p.webrtc === true) out.webrtc = true;
  return out;
}
