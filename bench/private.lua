-- wrk script for the `private` section: the same announces against a public and a private tracker.
--   BENCH_HASHES    file with one %-escaped info hash per line
--   BENCH_PATH      announce path of a public tracker (e.g. /tracker/announce), or
--   BENCH_PASSKEYS  file with one passkey per line + BENCH_PREFIX (e.g. /tracker/): private paths
--                   <prefix><passkey>/announce
--   BENCH_MODE      "new": every request is a new random peer announcing `started` (as announce.lua);
--                   "reannounce": a fixed population of BENCH_PEERS peers announcing again and again
--                   without an event, `uploaded` (and a leecher's `downloaded`) growing with the
--                   clock, so every announce after a peer's first one credits traffic. Peer i is in
--                   swarm i mod #hashes and belongs to passkey floor(i / #hashes) mod #passkeys.
--   BENCH_SEEDERS   share of seeders (left=0); BENCH_CLOSE=1: a new connection per announce.
local hashes = {}
local paths = {}
local mode = os.getenv("BENCH_MODE") or "new"
local population = tonumber(os.getenv("BENCH_PEERS") or "10000")
local seeders = tonumber(os.getenv("BENCH_SEEDERS") or "0.3")
local cursor = 0
local hex = {}
for i = 0, 255 do hex[i] = string.format("%%%02X", i) end

function init(args)
  for line in io.lines(os.getenv("BENCH_HASHES")) do
    if #line > 0 then hashes[#hashes + 1] = line end
  end
  local passkeys = os.getenv("BENCH_PASSKEYS")
  if passkeys and #passkeys > 0 then
    local prefix = os.getenv("BENCH_PREFIX") or "/"
    for line in io.lines(passkeys) do
      if #line > 0 then paths[#paths + 1] = prefix .. line .. "/announce" end
    end
  else
    paths[1] = os.getenv("BENCH_PATH") or "/announce"
  end
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1000000))
  -- BENCH_START: first peer (the warm-up walks the population in order); otherwise a random one.
  local start = tonumber(os.getenv("BENCH_START") or "-1")
  if start >= 0 then cursor = start % population else cursor = math.random(0, population - 1) end
  if os.getenv("BENCH_CLOSE") == "1" then wrk.headers["Connection"] = "close" end
end

local function newPeer()
  local id = {}
  for i = 1, 12 do id[i] = hex[math.random(0, 255)] end
  local left = "1000000"
  if math.random() < seeders then left = "0" end
  return wrk.format("GET", paths[math.random(1, #paths)] .. "?info_hash=" .. hashes[math.random(1, #hashes)]
    .. "&peer_id=-BN0001-" .. table.concat(id)
    .. "&port=" .. math.random(1024, 65535)
    .. "&uploaded=0&downloaded=0&left=" .. left .. "&compact=1&numwant=50&event=started")
end

-- Counters grow with the clock (seconds since 2023-11 times 64 KiB), so they keep growing across
-- wrk runs against the same server: a peer announces again at least a second later.
local function reannounce()
  local i = cursor
  cursor = (cursor + 1) % population
  local t = os.time() - 1700000000
  local seeder = (i % 10) < math.floor(seeders * 10 + 0.5)
  local left = "1000000"
  local downloaded = t * 16384
  if seeder then
    left = "0"
    downloaded = 1000000
  end
  return wrk.format("GET", paths[(math.floor(i / #hashes) % #paths) + 1] .. "?info_hash=" .. hashes[(i % #hashes) + 1]
    .. "&peer_id=-BN0002-" .. string.format("%012d", i)
    .. "&port=" .. (1024 + i % 60000)
    .. "&uploaded=" .. (t * 65536) .. "&downloaded=" .. downloaded .. "&left=" .. left .. "&compact=1&numwant=50")
end

if mode == "reannounce" then request = reannounce else request = newPeer end
