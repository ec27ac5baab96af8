-- slidingWindow (docs/semantics.md, slidingWindow): two-window weighted counter, integers scaled by W.
-- State: a string "<window index>:<curr>:<prev>"; absent = untouched. Params: limit L (cost
-- units per sliding window), windowMs W (ms). The key expires at start + 2W after an admission
-- in the window that starts at `start`.
local slidingWindow = { nparams = 2 }

function slidingWindow.params(a, i)
  return { limit = tonumber(a[i]), window = tonumber(a[i + 1]) }
end

function slidingWindow.read(key, p, now)
  local W = p.window
  local elapsed = now % W
  local start = now - elapsed
  local s = { elapsed = elapsed, start = start, index = start / W, curr = 0, prev = 0,
    same = false }
  local state = redis.call('GET', key)
  if state then
    local a = find(state, ':', 1, true)
    local b = find(state, ':', a + 1, true)
    local i = tonumber(sub(state, 1, a - 1))
    if i == s.index then
      s.curr = tonumber(sub(state, a + 1, b - 1))
      s.prev = tonumber(sub(state, b + 1))
      s.same = true
    elseif i == s.index - 1 then
      s.prev = tonumber(sub(state, a + 1, b - 1))
    end
  end
  s.used = s.prev * (W - elapsed) + s.curr * W
  return s
end

function slidingWindow.idle(s, p)
  local W = p.window
  local remaining = 0
  if p.limit * W > s.used then remaining = floor((p.limit * W - s.used) / W) end
  local now = s.start + s.elapsed
  if s.curr > 0 then return remaining, s.start + 2 * W - now end
  if s.prev > 0 then return remaining, s.start + W - now end
  return remaining, 0
end

function slidingWindow.answer(s, p, now, cost)
  local W, L = p.window, p.limit
  if s.used + cost * W <= L * W then
    return true, floor((L * W - s.used - cost * W) / W), s.start + 2 * W - now, 0
  end
  local remaining, resetMs = slidingWindow.idle(s, p)
  local retry
  local free = L - s.curr - cost
  if free >= 0 and s.prev > 0 then
    -- The decaying previous window makes room within this window.
    retry = W - floor(free * W / s.prev) - s.elapsed
  else
    -- Room comes only in the next window, where today's curr becomes prev.
    retry = s.start + W - now
    if s.curr > 0 then
      local wait = W - floor((L - cost) * W / s.curr)
      if wait > 0 then retry = retry + wait end
    end
  end
  return false, remaining, resetMs, retry
end

function slidingWindow.write(key, s, p, now, cost)
  local value = format('%d:%d:%d', s.index, s.curr + cost, s.prev)
  if s.same and not injected then
    -- The TTL set by this window's first admission already ends at start + 2W (server clock);
    -- a SET that keeps it is much cheaper for Redis than one that sets it again.
    redis.call('SET', key, value, 'KEEPTTL')
  else
    redis.call('SET', key, value, 'PX', s.start + 2 * p.window - now)
  end
end

-- After rolling the state to now's window: c = min(curr, cost), curr -= c,
-- prev = max(0, prev - (cost - c)).
function slidingWindow.refund(key, p, now, cost)
  local s = slidingWindow.read(key, p, now)
  if s.curr == 0 and s.prev == 0 then return end
  local c = s.curr
  if c > cost then c = cost end
  local curr = s.curr - c
  local prev = s.prev - (cost - c)
  if prev < 0 then prev = 0 end
  local value = format('%d:%d:%d', s.index, curr, prev)
  if curr > 0 then
    redis.call('SET', key, value, 'PX', s.start + 2 * p.window - now)
  elseif prev > 0 then
    redis.call('SET', key, value, 'PX', s.start + p.window - now)
  else
    redis.call('DEL', key)
  end
end
