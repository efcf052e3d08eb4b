-- wrk script: cycles through every vector tile over Kent and Medway at zooms 8-14 for
-- four layers (about 7,000 distinct tiles), each wrk thread from its own offset.
-- Usage: wrk -t1 -c64 -d20s --latency -s benches/http/tiles.lua http://127.0.0.1:PORT
local layers = { "districts", "hotspots", "grip", "h3-counts" }
local west, south, east, north = 0.03, 50.91, 1.45, 51.49

local function tile(lon, lat, z)
  local n = 2 ^ z
  local r = math.rad(lat)
  local x = math.floor((lon + 180) / 360 * n)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end

local paths = {}
for z = 8, 14 do
  local x0, y0 = tile(west, north, z)
  local x1, y1 = tile(east, south, z)
  for _, layer in ipairs(layers) do
    for x = x0, x1 do
      for y = y0, y1 do
        paths[#paths + 1] = "/tiles/" .. layer .. "/" .. z .. "/" .. x .. "/" .. y .. ".mvt"
      end
    end
  end
end

local counter = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads * 997)
  threads = threads + 1
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local p = paths[(counter % #paths) + 1]
  return wrk.format("GET", p, { ["Accept-Encoding"] = "gzip" })
end

function done(summary, latency, requests)
  io.write(string.format("distinct tiles: %d\n", #paths))
end
