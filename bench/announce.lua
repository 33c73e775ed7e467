-- wrk script: random new peers announcing into a fixed set of swarms.
-- BENCH_HASHES: file with one %-escaped info hash per line; BENCH_PATH: announce path;
-- BENCH_SEEDERS: share of seeders (left=0); BENCH_CLOSE=1: a new connection per announce.
local hashes = {}
local path = os.getenv("BENCH_PATH") or "/announce"
local seeders = tonumber(os.getenv("BENCH_SEEDERS") or "0.3")
local hex = {}
for i = 0, 255 do hex[i] = string.format("%%%02X", i) end

function init(args)
  for line in io.lines(os.getenv("BENCH_HASHES")) do
    if #line > 0 then hashes[#hashes + 1] = line end
  end
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1000000))
  if os.getenv("BENCH_CLOSE") == "1" then wrk.headers["Connection"] = "close" end
end

function request()
  local id = {}
  for i = 1, 12 do id[i] = hex[math.random(0, 255)] end
  local left = "1000000"
  if math.random() < seeders then left = "0" end
  return wrk.format("GET", path .. "?info_hash=" .. hashes[math.random(1, #hashes)]
    .. "&peer_id=-BN0001-" .. table.concat(id)
    .. "&port=" .. math.random(1024, 65535)
    .. "&uploaded=0&downloaded=0&left=" .. left .. "&compact=1&numwant=50&event=started")
end
