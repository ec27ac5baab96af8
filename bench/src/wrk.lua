-- pnpm bench's wrk script (src/load.ts, loader `wrk`): counts statuses per thread, rotates the
-- X-Forwarded-For pool of `multi` when given one, and prints one JSON line at the end.
-- TOLLGATE_WRK_POOL (environment): the pool size, 0 or unset for none; addresses are 10.a.b.c
-- as in src/load.ts's addressPool. Without a pool no `request` function is defined, so wrk sends
-- its one pre-built request (no Lua call per request).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local size = tonumber(os.getenv('TOLLGATE_WRK_POOL') or '0') or 0
local requests, next = {}, 1

function init(args)
  s2xx, s429, other = 0, 0, 0
  for i = 0, size - 1 do
    local address = string.format('10.%d.%d.%d', math.floor(i / 65536) % 256,
      math.floor(i / 256) % 256, i % 256)
    requests[i + 1] = wrk.format('GET', '/', { ['X-Forwarded-For'] = address })
  end
end

if size > 0 then
  function request()
    local r = requests[next]
    next = next + 1
    if next > size then next = 1 end
    return r
  end
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status == 429 then
    s429 = s429 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get('s2xx')
    b = b + t:get('s429')
    c = c + t:get('other')
  end
  local e = summary.errors
  io.write(string.format(
    'TOLLGATE_WRK {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"s2xx":%d,"s429":%d,"other":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), a, b, c,
    e.connect, e.read, e.write, e.timeout))
end
