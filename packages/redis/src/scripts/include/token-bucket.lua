-- tokenBucket (docs/semantics.md, tokenBucket). Tokens are kept in integer units of 1/I token, so
-- refill is exact: R units per millisecond, no float drift. State: a string
-- "<units>:<ts>:<fullAt>" (ts = integer epoch ms of the last write, fullAt = when the bucket is
-- full again under the capacity of the call that wrote it); absent = a full bucket. Params:
-- capacity C (tokens), refillRate R (tokens per refillIntervalMs), refillIntervalMs I (ms). The
-- key expires at fullAt; a state read at or after fullAt counts as missing even if Redis has not
-- expired it yet (an injected clock runs ahead of Redis's), so a missing state is a full bucket
-- under whatever capacity comes next (docs/semantics.md, per-request limits).
local tokenBucket = { nparams = 3 }

function tokenBucket.params(a, i)
  return { limit = tonumber(a[i]), rate = tonumber(a[i + 1]), interval = tonumber(a[i + 2]) }
end

function tokenBucket.read(key, p, now)
  local full = p.limit * p.interval
  local units = full
  local state = redis.call('GET', key)
  local last = state and find(state, ':', find(state, ':', 1, true) + 1, true)
  if state and last and tonumber(sub(state, last + 1)) <= now then state = nil end
  if state then
    local sep = find(state, ':', 1, true)
    units = tonumber(sub(state, 1, sep - 1))
    local elapsed = now - tonumber(sub(state, sep + 1, (last or 0) - 1))
    -- Compared before multiplying out, so a long idle time cannot pass 2^53.
    if elapsed > 0 and elapsed >= ceil((full - units) / p.rate) then
      units = full
    elseif elapsed > 0 then
      units = units + elapsed * p.rate
    end
    -- A state written under a larger capacity holds at most this call's full bucket.
    if units > full then units = full end
  end
  return { units = units, full = full }
end

function tokenBucket.idle(s, p)
  return floor(s.units / p.interval), ceil((s.full - s.units) / p.rate)
end

function tokenBucket.answer(s, p, now, cost)
  local need = cost * p.interval
  if s.units >= need then
    local units = s.units - need
    return true, floor(units / p.interval), ceil((s.full - units) / p.rate), 0
  end
  local remaining, resetMs = tokenBucket.idle(s, p)
  return false, remaining, resetMs, ceil((need - s.units) / p.rate)
end

-- Stores (units, now) with PX = the time until full again (the TTL moves with every write);
-- a full bucket is the missing state, so it is deleted instead.
local function tokenBucketStore(key, units, full, rate, now)
  local resetMs = ceil((full - units) / rate)
  if resetMs > 0 then
    redis.call('SET', key, format('%d:%d:%d', units, now, now + resetMs), 'PX', resetMs)
  else
    redis.call('DEL', key)
  end
end

function tokenBucket.write(key, s, p, now, cost)
  tokenBucketStore(key, s.units - cost * p.interval, s.full, p.rate, now)
end

-- units = min(FULL, refilled units + cost * I), ts = now.
function tokenBucket.refund(key, p, now, cost)
  local s = tokenBucket.read(key, p, now)
  local units = s.units + cost * p.interval
  if units > s.full then units = s.full end
  tokenBucketStore(key, units, s.full, p.rate, now)
end
