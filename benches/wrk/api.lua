-- wrk script for the emulator's tag and attribute APIs (see benches/wrk.sh).
-- The URL on wrk's command line carries the API path and the query (sdkappid, identifier,
-- usersig, random, contenttype); this script POSTs JSON bodies for WRK_API, each naming
-- WRK_BATCH users drawn from u1..uWRK_USERS, from a pool of 1,000 bodies built in init.
-- done() prints one RESULT line that benches/emulator.rs reads.

local api = os.getenv("WRK_API") or "get_tag"
local users = tonumber(os.getenv("WRK_USERS") or "100000")
local batch = tonumber(os.getenv("WRK_BATCH") or "1")
local cities = { "Shenzhen", "Beijing", "Shanghai", "Singapore", "Seoul", "Frankfurt" }
local tags = { "vip", "new", "android", "ios", "beta", "premium", "trial", "newsletter" }

local function user()
  return '"u' .. math.random(1, users) .. '"'
end

local function body()
  local items = {}
  for i = 1, batch do
    local u = user()
    if api == "set_attr" then
      items[i] = '{"To_Account":' .. u .. ',"Attrs":{"city":"' .. cities[math.random(#cities)] .. '"}}'
    elseif api == "remove_attr" then
      items[i] = '{"To_Account":' .. u .. ',"Attrs":["city"]}'
    elseif api == "add_tag" or api == "remove_tag" then
      items[i] = '{"To_Account":' .. u .. ',"Tags":["' .. tags[math.random(#tags)] .. '"]}'
    else
      items[i] = u
    end
  end
  local list = table.concat(items, ",")
  if api == "set_attr" or api == "remove_attr" then
    return '{"UserAttrs":[' .. list .. ']}'
  elseif api == "add_tag" or api == "remove_tag" then
    return '{"UserTags":[' .. list .. ']}'
  else -- get_attr, get_tag, clear_all_tags
    return '{"To_Account":[' .. list .. ']}'
  end
end

local requests = {}
local next_request = 1

function init(args)
  math.randomseed(os.time())
  for i = 1, 1000 do
    requests[i] = wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json" }, body())
  end
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
