/**
 * express-torrent-tracker: a BitTorrent tracker as Express middleware, plus .torrent creation and a
 * seeder. This file holds public exports only.
 */
export type { AnnounceEvent, Peer, PeerRefusal, PeerState, SwarmCounts, SwarmTotals, TorrentRules } from './types.js';
export type {
  PrivateAnnounce,
  StoreBus,
  TorrentRegistry,
  RegisteredSwarm,
  ListedPeer,
  PeerPage,
  BanStore,
  SwarmAnnounce,
  SwarmAnnounceResult,
  SwarmStore,
  SwarmStoreOptions,
  SwarmLimits,
} from './swarm/types.js';
export type { ValidateOption, ValidationName } from './validations.js';
export type { ParsedTorrent, TorrentFile, TorrentVersion } from './torrent/types.js';
export { trackerMiddleware, type TrackerRouter } from './middleware.js';
export { Tracker, type TrackerOptions, type ResolvedTrackerOptions, type AnnounceEventInfo, type TorrentInput, type AnswerWriter } from './tracker.js';
export type {
  AdminPeer,
  ListTorrentsOptions,
  PeerListPage,
  PeersOptions,
  RegisteredTorrent,
  TorrentPage,
  TorrentRegisteredEvent,
  TorrentRemovedEvent,
} from './tracker.js';
export type { AnnounceRequest } from './protocol/announce.js';
export { MAX_PASSKEY_LENGTH, type PasskeyVerifier, type PasskeyAnswer, type UserId } from './policy/passkey.js';
export type { TorrentVerifier, TorrentAnswer } from './policy/torrents.js';
export type { ClientRules } from './policy/clients.js';
export { MAX_BANS, MAX_BAN_REASON, type Ban, type BanSpec } from './policy/bans.js';
export type { TrafficRecord, TrafficCallback } from './policy/traffic.js';
export { MemorySwarmStore, type MemorySwarmStoreOptions, type SnapshotLoad, type SnapshotSave } from './swarm/memory/memory-store.js';
export { isSwarmStore, MAX_LIST_PAGE } from './swarm/types.js';
export type { HistoryBucket, HistoryDelta, HistoryOptions, HistoryResolution, HistoryStore } from './history/buckets.js';
export { MAX_SORTED_TORRENTS } from './core/listing.js';
export { createTrackerServer, type TrackerServer, type TrackerServerOptions, type TrackerServerWebSocketOptions } from './server.js';
export { createUdpTracker, UdpTracker, type UdpTrackerOptions } from './transport/udp.js';
export {
  createSeeder,
  Seeder,
  type SeederOptions,
  type AddOptions,
  type SeededTorrentInfo,
  type SeederStats,
  type TorrentStats,
  type PeerEventInfo,
  type PeerCloseEventInfo,
  type SeederEventName,
  type SeederEvents,
  type SeederAnnounceEvent,
  type SeederAnnounceErrorEvent,
  type DialErrorEvent,
} from './seeder/seeder.js';
export { webSeedHandler, type WebSeedOptions } from './seeder/webseed.js';
export { WireProtocolError } from './seeder/wire.js';
export { createTorrent, type CreateTorrentOptions, type CreatedTorrent, type AnnounceInput } from './torrent/create.js';
export { parseTorrent } from './torrent/parse.js';
export { withTrackers, type WithTrackersOptions } from './torrent/trackers.js';
export { magnetLink, type MagnetInput } from './torrent/magnet.js';
export { TorrentParseError, TorrentCreateError } from './torrent/errors.js';
export { defaultPieceLength, MIN_PIECE_LENGTH, MAX_PIECE_LENGTH } from './torrent/piece-length.js';
export { RedisSwarmStore, type RedisSwarmStoreOptions } from './swarm/redis/redis-store.js';
export { isRedisKeyv, RedisStoreError } from './swarm/redis/connection.js';
export { KeyvSwarmStore, KeyvStoreError, type KeyvSwarmStoreOptions } from './swarm/keyv/keyv-store.js';
export { openStore, openRedisKeyv, type StoreOption, type OpenStoreOptions, type OpenedStore } from './swarm/open.js';
export {
  createWebSocketTracker,
  WebSocketTracker,
  type WebSocketTrackerOptions,
} from './transport/websocket.js';
export { trackerAdmin } from './admin/router.js';
export { trackerHealth, type HealthTarget } from './health/router.js';
export type { DrainOptions, DrainResult, HealthCheck, HealthReport } from './health/health.js';
export { adminOpenApiDocument } from './admin/openapi.js';
export type {
  TrackerAdminOptions,
  AdminTorrentRules,
  AdminCounts,
  AdminTorrent,
  AdminSwarm,
  AdminTorrentDetail,
  AdminTorrentPage,
  AdminRegisterTorrentBody,
  AdminUpdateTorrentBody,
  AdminApiPeer,
  AdminPeerPage,
  AdminRevokePasskeyBody,
  AdminBanBody,
  AdminBan,
  AdminBanList,
  AdminStats,
  AdminProblem,
} from './admin/types.js';
export { trackerMetrics, type TrackerMetrics, type TrackerMetricsOptions } from './stats/metrics.js';
export type { TrackerStats, Transport, FailureCategory } from './stats/counters.js';
