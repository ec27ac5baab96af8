-- concurrency (docs/semantics.md, concurrency): cost units in flight. State: a sorted set of live
-- leases, member "<cost>:<lease id>" (the lease string the caller holds), score expiresAt
-- (integer epoch ms); absent = nothing in flight. Params: limit L (cost units in flight),
-- leaseMs M (ms), then the lease of a decide or release ('' otherwise). The key expires with its last lease (PEXPIRE max(expiresAt) - now).
local concurrency = { nparams = 3 }

function concurrency.params(a, i)
  return { limit = tonumber(a[i]), leaseMs = tonumber(a[i + 1]), lease = a[i + 2] }
end

-- Reads the live leases (expiresAt > now), oldest first, without writing: a peek stores
-- nothing, and leases that expired are simply not counted.
function concurrency.read(key, p, now)
  local live = redis.call('ZRANGEBYSCORE', key, format('(%d', now), '+inf', 'WITHSCORES')
  local used = 0
  for i = 1, #live, 2 do
    local m = live[i]
    used = used + tonumber(sub(m, 1, find(m, ':', 1, true) - 1))
  end
  local s = { live = live, used = used, maxExp = 0, now = now, expired = false }
  if #live > 0 then s.maxExp = tonumber(live[#live]) end
  return s
end

function concurrency.idle(s, p)
  local remaining = p.limit - s.used
  if remaining < 0 then remaining = 0 end
  if s.maxExp > 0 then return remaining, s.maxExp - s.now end
  return remaining, 0
end

function concurrency.answer(s, p, now, cost)
  if s.used + cost <= p.limit then
    local last = now + p.leaseMs
    if s.maxExp > last then last = s.maxExp end
    return true, p.limit - s.used - cost, last - now, 0
  end
  local remaining, resetMs = concurrency.idle(s, p)
  -- Leases leave oldest first: the first after whose leaving the request fits.
  local used = s.used
  local live = s.live
  for i = 1, #live, 2 do
    local m = live[i]
    used = used - tonumber(sub(m, 1, find(m, ':', 1, true) - 1))
    if used + cost <= p.limit then
      return false, remaining, resetMs, tonumber(live[i + 1]) - now
    end
  end
  -- Unreachable while cost <= L: once every lease has left, used = 0.
  return false, remaining, resetMs, resetMs
end

-- An admission: leases that expired go, the new lease is added with expiresAt = now + M, and
-- the key lives as long as its last lease.
function concurrency.write(key, s, p, now, cost, lease)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', format('%d', now))
  local expiresAt = now + p.leaseMs
  redis.call('ZADD', key, format('%d', expiresAt), lease)
  local last = expiresAt
  if s.maxExp > last then last = s.maxExp end
  redis.call('PEXPIRE', key, format('%d', last - now))
end

-- Removes the lease if it is still there (idempotent), then shortens the key's life to its
-- last remaining lease (ZREM of the last member deletes the key).
function concurrency.release(key, now, lease)
  if redis.call('ZREM', key, lease) == 0 then return end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if #last == 0 then return end
  local rest = tonumber(last[2]) - now
  if rest > 0 then
    redis.call('PEXPIRE', key, format('%d', rest))
  else
    redis.call('DEL', key)
  end
end
