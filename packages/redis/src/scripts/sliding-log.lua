-- tollgate slidingLog: exact log of admitted requests, one decision, atomically
-- (SEMANTICS.md, slidingLog).
--
-- KEYS[1]  state key, a string "<used>:<t_newest>|" followed by one "<t>:<cost>," per admitted
--          request, oldest first (t = integer epoch ms of admission, cost in cost units; <used>
--          = sum of the costs listed). Absent = empty log.
-- ARGV[1]  limit L, cost units per any span of W milliseconds (positive integer)
-- ARGV[2]  windowMs W, window length in milliseconds (positive integer)
-- ARGV[3]  cost of this request, in cost units (positive integer, <= L)
-- ARGV[4]  optional: now, integer epoch milliseconds of an injected test clock;
--          absent = the server's TIME (sec * 1000 + floor(usec / 1000)).
--
-- Returns the integer array {allowed (1|0), limit, remaining, resetMs, retryAfterMs}.
-- Every value is an integer below 2^53, so Redis's number-to-integer reply loses nothing.
--
-- Cost: GET, plus SET ... PX when admitted. The running sum in the header means only expired
-- entries (and, on a denial, the entries the retry walk needs) are parsed, never the whole log.
-- A denial writes nothing, so it never extends the TTL. The key expires at t_newest + W.

local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now
if ARGV[4] then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local horizon = now - window
local used, newest = 0, 0
local log = ''

local state = redis.call('GET', KEYS[1])
if state then
  local _, headerEnd, u, n = string.find(state, '^(%d+):(%d+)|')
  used = tonumber(u)
  newest = tonumber(n)
  local pos = headerEnd + 1
  -- Drop entries with t <= now - W, oldest first.
  while used > 0 do
    local _, e, t, c = string.find(state, '^(%d+):(%d+),', pos)
    if tonumber(t) > horizon then break end
    used = used - tonumber(c)
    pos = e + 1
  end
  if used > 0 then log = string.sub(state, pos) end
end

if used + cost <= limit then
  used = used + cost
  redis.call('SET', KEYS[1], string.format('%d:%d|', used, now) .. log ..
    string.format('%d:%d,', now, cost), 'PX', window)
  return { 1, limit, limit - used, window, 0 }
end

-- Denied: the first entry (oldest first) whose expiry leaves room gives the wait.
local retryAfterMs = 0
local freed = used
local pos = 1
while true do
  local _, e, t, c = string.find(log, '^(%d+):(%d+),', pos)
  freed = freed - tonumber(c)
  if freed + cost <= limit then
    retryAfterMs = tonumber(t) + window - now
    break
  end
  pos = e + 1
end
return { 0, limit, limit - used, newest + window - now, retryAfterMs }
