/**
 * The Lua scripts of the native Redis store ({@link RedisSwarmStore}). Each swarm is up to six keys that
 * share one `{hash tag}` (so one script touches one Redis Cluster slot):
 *
 *   S  sorted set  seeders:  member = 20-byte peer id, score = expiry (ms, store clock)
 *   L  sorted set  leechers: same layout; a peer id is in at most one of S and L
 *   D  hash        peer data: field = peer id, value = address (4 or 16 bytes) + port (2 bytes, BE)
 *                  [+ the client's key (4 bytes), when it sent one] [+ 'd' when the peer is done:
 *                  listed as a seeder or had a counted completion; so an odd length means done]
 *   N  string      downloaded counter (counted completions: at most one per listed peer)
 *   P  hash        private mode only: field = peer id, value = the peer's state as text,
 *                  "<at ms> <seeder 0|1> <uploaded> <downloaded> <owner>" (owner last: any text)
 *   Q  sorted set  partial seeds (BEP 21 `paused`, not done): a subset of L with the same scores;
 *                  scrape's `downloaders` is L minus Q
 *
 * Expired peers are removed by score (ZREMRANGEBYSCORE) in the announce script itself, and every
 * key's TTL is set to the expiry of the swarm's longest-lived peer, so expired peers and empty
 * swarms vanish without any global scan. `now` is passed in by the caller (the store's clock).
 *
 * Global totals (live swarms, seeders and leechers by address family) are kept without any scan by
 * an expiry wheel: peer expiries are whole seconds, and two hashes outside the swarms count them:
 *
 *   W  hash  field = kind .. second, value = how many live things of that kind expire at that second
 *            (kinds: S4 L4 S6 L6 seeders/leechers by family, T swarms by their last peer's expiry)
 *   T  hash  field = kind, value = the live total; field `c` = the first second not rolled yet
 *
 * Each announce moves its peer (and its swarm) from the old expiry bucket to the new one and first
 * "rolls" the wheel: buckets of seconds that have passed are subtracted from the totals. With Redis
 * Cluster, W and T live in another slot than the swarm: the announce script returns the moves and
 * {@link TOTALS_APPLY_LUA} applies them right after.
 */

/**
 * The wheel code shared by the announce script and {@link TOTALS_APPLY_LUA}: `roll(now)` subtracts
 * the buckets of passed seconds (at most 3600 seconds per call; later calls roll the rest).
 */
const WHEEL_LUA = `
local KINDS = { 'S4', 'L4', 'S6', 'L6', 'T' }
-- Subtract the buckets of passed seconds from the totals; returns the first second not rolled.
local function roll(W, T, now)
  local limit = math.ceil(now / 1000)
  local cursor = tonumber(redis.call('HGET', T, 'c') or '0')
  if cursor == 0 then cursor = limit end
  local stop = math.max(cursor, math.min(limit, cursor + 3600))
  for b = cursor, stop - 1 do
    for _, k in ipairs(KINDS) do
      local field = k .. string.format('%d', b)
      local v = redis.call('HGET', W, field)
      if v then
        local n = tonumber(v)
        if n ~= 0 then redis.call('HINCRBY', T, k, 0 - n) end -- never -0: HINCRBY refuses it
        redis.call('HDEL', W, field)
      end
    end
  end
  redis.call('HSET', T, 'c', string.format('%d', stop))
  return stop
end
-- Count one thing of 'kind' in or out of the bucket of 'second', unless that bucket was rolled
-- already (then the thing is expired for the totals, and was subtracted when it was rolled).
local function count(W, T, cursor, kind, second, delta)
  if second < cursor then return end
  redis.call('HINCRBY', W, kind .. string.format('%d', second), delta)
  redis.call('HINCRBY', T, kind, delta)
end
`;

/**
 * One announce, atomically.
 *
 * KEYS: S, L, D, N, P, Q [, W, T: the totals wheel, except with Redis Cluster].
 * ARGV: now (ms), peer id, packed address+port, seeder ('1', '0', or 'p': a partial seed), event ('u' update, 's' started,
 * 'c' completed, 'x' stopped), numwant, peer ttl (ms), downloaded counter ttl (ms, 0 = forever),
 * private ('p' or ''), owner, min interval (ms, 0 = off), uploaded, downloaded, max peers, max swarms
 * (0 = no cap), and with Redis Cluster the live peers and swarms as last read (for the caps).
 *
 * Returns { complete, incomplete, downloaded, packed, previous, moves, counted, downloaders } where `packed`
 * concatenates, for a uniform random sample of up to numwant + 1 peers minus the requester, id
 * (20 bytes) + data length (1 byte) + data (the caller drops one random extra peer when the
 * requester was not drawn), `previous` is the peer's state before this announce ('' when none or
 * public), and `counted` is 1 when a `completed` added one to N (the peer was not listed as done),
 * else 0, and `downloaders` is `incomplete` without the partial seeds. A `completed` that does not count is a regular update (it obeys the min interval).
 *
 * A live peer announced from another address without its key gives { -1, 'a', 0 } (no hijacking);
 * a new peer past a cap gives { -1, 'f', 0 }.
 * Private mode: a peer owned by another owner gives { -1, 'o', 0 } and an update sooner than the
 * min interval gives { -1, 'i', ms to wait }; neither changes the peer. (The same rules as
 * policy/owner.ts and policy/interval.ts.)
 */
export const ANNOUNCE_LUA = `${WHEEL_LUA}
local S, L, D, N, P, Q, W, T = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local seeder, partial = ARGV[4] == '1', ARGV[4] == 'p'
local private = ARGV[9] == 'p'
local now = tonumber(ARGV[1])
local id = ARGV[2]
local event = ARGV[5]
local numwant = tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local doneTtl = tonumber(ARGV[8])
local expired = '(' .. ARGV[1]

-- totals: moves between expiry buckets, applied here (W and T given) or returned (Redis Cluster)
local moves = {}
local cursor = 0
local function move(kind, score, delta)
  if score % 1000 ~= 0 then return end -- a peer stored before totals were kept
  if W then count(W, T, cursor, kind, score / 1000, delta)
  else moves[#moves + 1] = kind .. string.format('%d', score / 1000) .. ' ' .. delta end
end
local function kindOf(seeder, data)
  return (seeder and 'S' or 'L') .. ((#data == 6 or #data == 10) and '4' or '6')
end
local function lastExpiry()
  local last = 0
  for _, set in ipairs({S, L}) do
    local top = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
    if top[2] and tonumber(top[2]) > last then last = tonumber(top[2]) end
  end
  return last
end
if W then cursor = roll(W, T, now) end

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
      if set == L then redis.call('ZREM', Q, unpack(gone, i, last)) end
      if private then redis.call('HDEL', P, unpack(gone, i, last)) end
    end
  end
end

-- 2. no hijacking: a listed (live) peer may be changed only from its own address or with its key
local data = ARGV[3]
local listed = redis.call('HGET', D, id)
local oldScore, oldSeeder, oldDone = false, false, false
if listed then
  -- a trailing 'd' (odd length) marks a peer that is done
  local done = #listed % 2 == 1
  if done then listed = string.sub(listed, 1, #listed - 1) end
  local score = redis.call('ZSCORE', S, id)
  oldSeeder = score ~= false and score ~= nil
  if not oldSeeder then score = redis.call('ZSCORE', L, id) end
  if score and tonumber(score) >= now then
    oldScore = tonumber(score)
    oldDone = done
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

-- a completion counts once per listed peer: not when the live peer is done already
local counted = event == 'c' and not oldDone

-- 3. private mode: the owner and interval rules, before anything of the peer changes
local previous = false
if private then
  previous = redis.call('HGET', P, id)
  if previous then
    local at, owner = string.match(previous, '^(%d+) [01] %S+ %S+ (.*)$')
    if owner ~= ARGV[10] then return { -1, 'o', 0 } end
    local minInterval = tonumber(ARGV[11])
    if (event == 'u' or (event == 'c' and not counted)) and minInterval > 0 then
      local wait = tonumber(at) + minInterval - now
      if wait > 0 then return { -1, 'i', wait } end
    end
  end
end

-- 4. upsert or remove the requesting peer
local swarmBefore = lastExpiry()
-- caps: a peer that is not live yet may not go past maxPeers, nor bring a swarm to life past
-- maxSwarms (totals from T, or, with Redis Cluster, as the caller last read them)
local maxPeers, maxSwarms = tonumber(ARGV[14]) or 0, tonumber(ARGV[15]) or 0
if event ~= 'x' and not oldScore and (maxPeers > 0 or maxSwarms > 0) then
  local peers, swarms
  if W then
    local t = redis.call('HMGET', T, 'S4', 'L4', 'S6', 'L6', 'T')
    peers = (tonumber(t[1]) or 0) + (tonumber(t[2]) or 0) + (tonumber(t[3]) or 0) + (tonumber(t[4]) or 0)
    swarms = tonumber(t[5]) or 0
  else
    peers, swarms = tonumber(ARGV[16]) or 0, tonumber(ARGV[17]) or 0
  end
  if maxPeers > 0 and peers >= maxPeers then return { -1, 'f', 0 } end
  if maxSwarms > 0 and swarmBefore < now and swarms >= maxSwarms then return { -1, 'f', 0 } end
end
if oldScore then move(kindOf(oldSeeder, listed), oldScore, -1) end
if event == 'x' then
  redis.call('ZREM', S, id)
  redis.call('ZREM', L, id)
  redis.call('ZREM', Q, id)
  redis.call('HDEL', D, id)
  if private then redis.call('HDEL', P, id) end
else
  local expiry = math.ceil((now + ttl) / 1000) * 1000
  move(kindOf(seeder, data), expiry, 1)
  if seeder then
    redis.call('ZADD', S, expiry, id)
    redis.call('ZREM', L, id)
  else
    redis.call('ZADD', L, expiry, id)
    redis.call('ZREM', S, id)
  end
  if partial then redis.call('ZADD', Q, expiry, id) else redis.call('ZREM', Q, id) end
  if seeder or counted or oldDone then data = data .. 'd' end
  redis.call('HSET', D, id, data)
  if private then
    redis.call('HSET', P, id, ARGV[1] .. ' ' .. (seeder and '1' or '0') .. ' ' .. ARGV[12] .. ' ' .. ARGV[13] .. ' ' .. ARGV[10])
  end
  if counted then redis.call('INCR', N) end
end

local complete, incomplete, partials
if backlog then
  complete = redis.call('ZCOUNT', S, ARGV[1], '+inf')
  incomplete = redis.call('ZCOUNT', L, ARGV[1], '+inf')
  partials = redis.call('ZCOUNT', Q, ARGV[1], '+inf')
else
  complete = redis.call('ZCARD', S)
  incomplete = redis.call('ZCARD', L)
  partials = redis.call('ZCARD', Q)
end

-- 5. the swarm's keys live exactly as long as its longest-lived peer
local last = lastExpiry()
if last ~= swarmBefore then
  if swarmBefore >= now then move('T', swarmBefore, -1) end
  if last >= now then move('T', last, 1) end
end
local life = 0
if last == 0 then redis.call('DEL', Q) end -- no live peer left: no partial seed either
if last > 0 then
  life = math.floor(last - now) + 1000
  redis.call('PEXPIRE', S, life)
  redis.call('PEXPIRE', L, life)
  redis.call('PEXPIRE', D, life)
  -- Q always shares L's life (a no-op when there is no Q): it never outlives the leechers it is part of
  redis.call('PEXPIRE', Q, life)
  if private then redis.call('PEXPIRE', P, life) end
end

local downloaded = tonumber(redis.call('GET', N) or '0')
if downloaded > 0 and doneTtl > 0 then
  redis.call('PEXPIRE', N, math.max(doneTtl, life))
end

-- 6. the sample, packed into one string (one reply to decode instead of two per peer):
--    for each peer other than the requester: id (20 bytes), length of data (1 byte), data
local out = { complete, incomplete, downloaded, '', previous or '', table.concat(moves, ','), counted and 1 or 0, math.max(0, incomplete - partials) }
if event ~= 'x' and numwant > 0 and complete + incomplete > 1 then
  local pick = redis.call('HRANDFIELD', D, numwant + 1, 'WITHVALUES')
  local parts = {}
  for i = 1, #pick, 2 do
    local v = pick[i + 1]
    if #v % 2 == 1 then v = string.sub(v, 1, #v - 1) end
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
 * Apply the totals moves an announce returned (Redis Cluster, where the wheel lives in its own slot).
 *
 * KEYS: W, T. ARGV: now (ms), moves ("<kind><second> <delta>" joined by commas; may be empty).
 * Returns nothing.
 */
export const TOTALS_APPLY_LUA = `${WHEEL_LUA}
local W, T = KEYS[1], KEYS[2]
local cursor = roll(W, T, tonumber(ARGV[1]))
for item in string.gmatch(ARGV[2], '[^,]+') do
  local kind, second, delta = string.match(item, '^([SL][46])(%d+) (-?%d+)$')
  if not kind then kind, second, delta = string.match(item, '^(T)(%d+) (-?%d+)$') end
  if kind then count(W, T, cursor, kind, tonumber(second), tonumber(delta)) end
end
return 0
`;

/**
 * The global totals (see {@link ANNOUNCE_LUA}), after rolling the wheel.
 *
 * KEYS: W, T. ARGV: now (ms). Returns { S4, L4, S6, L6, T }.
 */
export const TOTALS_READ_LUA = `${WHEEL_LUA}
local W, T = KEYS[1], KEYS[2]
roll(W, T, tonumber(ARGV[1]))
local out = {}
for i, k in ipairs(KINDS) do out[i] = tonumber(redis.call('HGET', T, k) or '0') end
return out
`;

/**
 * Counters of one swarm without touching it: live peers are those whose expiry score is >= now.
 *
 * KEYS: S, L, N, Q. ARGV: now (ms). Returns { complete, incomplete, downloaded, downloaders }.
 */
export const SCRAPE_LUA = `
local now = ARGV[1]
local incomplete = redis.call('ZCOUNT', KEYS[2], now, '+inf')
return {
  redis.call('ZCOUNT', KEYS[1], now, '+inf'),
  incomplete,
  tonumber(redis.call('GET', KEYS[3]) or '0'),
  math.max(0, incomplete - redis.call('ZCOUNT', KEYS[4], now, '+inf'))
}
`;

/**
 * A page of one swarm's live peers for an administrator, read-only: seeders first, then leechers,
 * each by expiry (ascending), from position `offset`, at most `limit` of them.
 *
 * KEYS: S, L, D, P. ARGV: now (ms), offset, limit.
 * Returns { total, then per peer: id, data (as D holds it, '' when missing), expiry score,
 * seeder ('1'/'0'), private state (as P holds it, '' when none) }.
 */
export const PEERS_LUA = `
local now = ARGV[1]
local offset, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local seeders = redis.call('ZCOUNT', KEYS[1], now, '+inf')
local leechers = redis.call('ZCOUNT', KEYS[2], now, '+inf')
local out = { seeders + leechers }
local taken = 0
local function take(set, seeder, from, count)
  if count <= 0 then return end
  local ids = redis.call('ZRANGEBYSCORE', set, now, '+inf', 'WITHSCORES', 'LIMIT', from, count)
  for i = 1, #ids, 2 do
    local id = ids[i]
    out[#out + 1] = id
    out[#out + 1] = redis.call('HGET', KEYS[3], id) or ''
    out[#out + 1] = ids[i + 1]
    out[#out + 1] = seeder
    out[#out + 1] = redis.call('HGET', KEYS[4], id) or ''
    taken = taken + 1
  end
end
if offset < seeders then take(KEYS[1], '1', offset, math.min(limit, seeders - offset)) end
take(KEYS[2], '0', math.max(0, offset - seeders), limit - taken)
return out
`;

/**
 * Credit of a hybrid torrent's two swarms for one client (policy/credit-once.ts), atomically:
 * KEYS[1] a hash with the sums of each side (`a0`..`a3`, `b0`..`b3`) and what was credited (`g0`..`g3`);
 * ARGV: side (0 or 1), TTL in ms, then the four amounts (whole numbers). Returns the four increments
 * as strings (exact up to 2^53).
 */
export const MERGE_CREDIT_LUA = `
local side = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'g0', 'g1', 'g2', 'g3')
local out = {}
local fields = {}
local cap = 9007199254740991
for i = 0, 3 do
  local a = tonumber(v[i + 1] or '0') or 0
  local b = tonumber(v[i + 5] or '0') or 0
  local g = tonumber(v[i + 9] or '0') or 0
  local add = math.max(0, tonumber(ARGV[3 + i]) or 0)
  if side == 0 then a = math.min(cap, a + add) else b = math.min(cap, b + add) end
  local larger = math.max(a, b)
  local inc = 0
  if larger > g then inc = larger - g; g = larger end
  out[i + 1] = string.format('%.0f', inc)
  table.insert(fields, 'a' .. i); table.insert(fields, string.format('%.0f', a))
  table.insert(fields, 'b' .. i); table.insert(fields, string.format('%.0f', b))
  table.insert(fields, 'g' .. i); table.insert(fields, string.format('%.0f', g))
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return out
`;
