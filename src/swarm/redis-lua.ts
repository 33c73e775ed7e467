/**
 * The Lua scripts of the native Redis store ({@link RedisSwarmStore}). Each swarm is four keys that
 * share one `{hash tag}` (so one script touches one Redis Cluster slot):
 *
 *   S  sorted set  seeders:  member = 20-byte peer id, score = expiry (ms, store clock)
 *   L  sorted set  leechers: same layout; a peer id is in at most one of S and L
 *   D  hash        peer data: field = peer id, value = address (4 or 16 bytes) + port (2 bytes, BE)
 *                  [+ the client's key (4 bytes), when it sent one]
 *   N  string      downloaded counter (number of `completed` events)
 *   P  hash        private mode only: field = peer id, value = the peer's state as text,
 *                  "<at ms> <seeder 0|1> <uploaded> <downloaded> <owner>" (owner last: any text)
 *
 * Expired peers are removed by score (ZREMRANGEBYSCORE) in the announce script itself, and every
 * key's TTL is set to the expiry of the swarm's longest-lived peer, so expired peers and empty
 * swarms vanish without any global scan. `now` is passed in by the caller (the store's clock).
 */

/**
 * One announce, atomically.
 *
 * KEYS: S, L, D, N, P.
 * ARGV: now (ms), peer id, packed address+port, seeder ('1'/'0'), event ('u' update, 's' started,
 * 'c' completed, 'x' stopped), numwant, peer ttl (ms), downloaded counter ttl (ms, 0 = forever),
 * private ('p' or ''), owner, min interval (ms, 0 = off), uploaded, downloaded.
 *
 * Returns { complete, incomplete, downloaded, packed, previous } where `packed` concatenates, for a
 * uniform random sample of up to numwant + 1 peers minus the requester, id (20 bytes) + data length
 * (1 byte) + data (the caller drops one random extra peer when the requester was not drawn), and
 * `previous` is the peer's state before this announce ('' when none or public).
 *
 * A live peer announced from another address without its key gives { -1, 'a', 0 } (no hijacking).
 * Private mode: a peer owned by another owner gives { -1, 'o', 0 } and an update sooner than the
 * min interval gives { -1, 'i', ms to wait }; neither changes the peer. (The same rules as
 * policy/owner.ts and policy/interval.ts.)
 */
export const ANNOUNCE_LUA = `
local S, L, D, N, P = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local private = ARGV[9] == 'p'
local now = tonumber(ARGV[1])
local id = ARGV[2]
local event = ARGV[5]
local numwant = tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local doneTtl = tonumber(ARGV[8])
local expired = '(' .. ARGV[1]

-- 1. trim expired peers (score < now) from both sets and their data: at most TRIM per set and
--    call, so a swarm with a huge backlog of expired peers never blocks Redis (later announces
--    trim the rest; until then counts use ZCOUNT and samples skip expired peers)
local TRIM = 1000
local backlog = false
for _, set in ipairs({S, L}) do
  local gone = redis.call('ZRANGEBYSCORE', set, '-inf', expired, 'LIMIT', 0, TRIM)
  if #gone > 0 then
    if #gone == TRIM then backlog = true end
    for i = 1, #gone, 500 do
      local last = math.min(i + 499, #gone)
      redis.call('ZREM', set, unpack(gone, i, last))
      redis.call('HDEL', D, unpack(gone, i, last))
      if private then redis.call('HDEL', P, unpack(gone, i, last)) end
    end
  end
end

-- 2. no hijacking: a listed (live) peer may be changed only from its own address or with its key
local data = ARGV[3]
local listed = redis.call('HGET', D, id)
if listed then
  local score = redis.call('ZSCORE', S, id) or redis.call('ZSCORE', L, id)
  if score and tonumber(score) >= now then
    local oldAddr = (#listed == 6 or #listed == 10) and 4 or 16
    local newAddr = (#data == 6 or #data == 10) and 4 or 16
    local oldKey = (#listed == 10 or #listed == 22) and string.sub(listed, -4) or false
    local newKey = (#data == 10 or #data == 22) and string.sub(data, -4) or false
    if oldAddr ~= newAddr or string.sub(listed, 1, oldAddr) ~= string.sub(data, 1, newAddr) then
      if not (oldKey and newKey and oldKey == newKey) then return { -1, 'a', 0 } end
    end
    -- an announce without a key keeps the key the peer has
    if oldKey and not newKey then data = data .. oldKey end
  end
end

-- 3. private mode: the owner and interval rules, before anything of the peer changes
local previous = false
if private then
  previous = redis.call('HGET', P, id)
  if previous then
    local at, owner = string.match(previous, '^(%d+) [01] %S+ %S+ (.*)$')
    if owner ~= ARGV[10] then return { -1, 'o', 0 } end
    local minInterval = tonumber(ARGV[11])
    if event == 'u' and minInterval > 0 then
      local wait = tonumber(at) + minInterval - now
      if wait > 0 then return { -1, 'i', wait } end
    end
  end
end

-- 4. upsert or remove the requesting peer
if event == 'x' then
  redis.call('ZREM', S, id)
  redis.call('ZREM', L, id)
  redis.call('HDEL', D, id)
  if private then redis.call('HDEL', P, id) end
else
  local expiry = now + ttl
  if ARGV[4] == '1' then
    redis.call('ZADD', S, expiry, id)
    redis.call('ZREM', L, id)
  else
    redis.call('ZADD', L, expiry, id)
    redis.call('ZREM', S, id)
  end
  redis.call('HSET', D, id, data)
  if private then
    redis.call('HSET', P, id, ARGV[1] .. ' ' .. ARGV[4] .. ' ' .. ARGV[12] .. ' ' .. ARGV[13] .. ' ' .. ARGV[10])
  end
  if event == 'c' then redis.call('INCR', N) end
end

local complete, incomplete
if backlog then
  complete = redis.call('ZCOUNT', S, ARGV[1], '+inf')
  incomplete = redis.call('ZCOUNT', L, ARGV[1], '+inf')
else
  complete = redis.call('ZCARD', S)
  incomplete = redis.call('ZCARD', L)
end

-- 5. the swarm's keys live exactly as long as its longest-lived peer
local last = 0
for _, set in ipairs({S, L}) do
  local top = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
  if top[2] then
    local score = tonumber(top[2])
    if score > last then last = score end
  end
end
local life = 0
if last > 0 then
  life = math.floor(last - now) + 1000
  redis.call('PEXPIRE', S, life)
  redis.call('PEXPIRE', L, life)
  redis.call('PEXPIRE', D, life)
  if private then redis.call('PEXPIRE', P, life) end
end

local downloaded = tonumber(redis.call('GET', N) or '0')
if downloaded > 0 and doneTtl > 0 then
  redis.call('PEXPIRE', N, math.max(doneTtl, life))
end

-- 6. the sample, packed into one string (one reply to decode instead of two per peer):
--    for each peer other than the requester: id (20 bytes), length of data (1 byte), data
local out = { complete, incomplete, downloaded, '', previous or '' }
if event ~= 'x' and numwant > 0 and complete + incomplete > 1 then
  local pick = redis.call('HRANDFIELD', D, numwant + 1, 'WITHVALUES')
  local parts = {}
  for i = 1, #pick, 2 do
    local v = pick[i + 1]
    if #v == 10 or #v == 22 then v = string.sub(v, 1, #v - 4) end
    local live = true
    if backlog then
      local score = redis.call('ZSCORE', S, pick[i]) or redis.call('ZSCORE', L, pick[i])
      live = score and tonumber(score) >= now
    end
    if live and pick[i] ~= id and #pick[i] == 20 and (#v == 6 or #v == 18) then
      parts[#parts + 1] = pick[i] .. string.char(#v) .. v
    end
  end
  out[4] = table.concat(parts)
end
return out
`;

/**
 * Counters of one swarm without touching it: live peers are those whose expiry score is >= now.
 *
 * KEYS: S, L, N. ARGV: now (ms). Returns { complete, incomplete, downloaded }.
 */
export const SCRAPE_LUA = `
local now = ARGV[1]
return {
  redis.call('ZCOUNT', KEYS[1], now, '+inf'),
  redis.call('ZCOUNT', KEYS[2], now, '+inf'),
  tonumber(redis.call('GET', KEYS[3]) or '0')
}
`;
