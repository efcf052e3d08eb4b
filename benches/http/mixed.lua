-- wrk script for the load test: a mix of what GIS clients and the map page ask, spread
-- over thousands of distinct addresses so the first minute runs mostly on a cold cache:
-- item pages of every public collection (offsets and bounding boxes), vector tiles of four
-- layers at zooms 8-14, and heatmap tiles at zooms 8-14, each a third of requests.
-- Usage: wrk -t2 -c256 -d60s --latency -s benches/http/mixed.lua http://127.0.0.1:PORT
local layers = { "districts", "hotspots", "grip", "h3-counts" }
local collections = { "districts", "hotspots", "grip", "diversion", "h3-counts", "gistar" }
local west, south, east, north = 0.03, 50.91, 1.45, 51.49

local function tile(lon, lat, z)
  local n = 2 ^ z
  local r = math.rad(lat)
  local x = math.floor((lon + 180) / 360 * n)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end

local items, vectors, heat = {}, {}, {}
for _, c in ipairs(collections) do
  for offset = 0, 200, 10 do
    items[#items + 1] = "/collections/" .. c .. "/items?limit=10&offset=" .. offset
  end
  for i = 0, 39 do
    local lon = west + (east - west) * (i % 8) / 8
    local lat = south + (north - south) * math.floor(i / 8) / 5
    items[#items + 1] = string.format(
      "/collections/%s/items?bbox=%.3f,%.3f,%.3f,%.3f", c, lon, lat, lon + 0.2, lat + 0.12)
  end
end
for z = 8, 14 do
  local x0, y0 = tile(west, north, z)
  local x1, y1 = tile(east, south, z)
  for x = x0, x1 do
    for y = y0, y1 do
      for _, layer in ipairs(layers) do
        vectors[#vectors + 1] = "/tiles/" .. layer .. "/" .. z .. "/" .. x .. "/" .. y .. ".mvt"
      end
      heat[#heat + 1] = "/tiles/density/" .. z .. "/" .. x .. "/" .. y .. ".png"
    end
  end
end
local kinds = { items, vectors, heat }
-- KIND=items|vectors|heat keeps one kind only (to see which one is slow).
local only = os.getenv("KIND")
if only == "items" then kinds = { items } elseif only == "vectors" then kinds = { vectors }
elseif only == "heat" then kinds = { heat } end

local counter = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local list = kinds[(counter % #kinds) + 1]
  local p = list[(math.floor(counter / #kinds) % #list) + 1]
  return wrk.format("GET", p, { ["Accept-Encoding"] = "gzip" })
end

function done(summary, latency, requests)
  io.write(string.format("distinct addresses: %d items, %d vector tiles, %d heatmap tiles\n",
    #items, #vectors, #heat))
end
