-- fixedWindow as the members of a compound (included after fixed-window.lua, in its scope, by
-- compound.lua only).
-- A decision of a compound of fixed windows only (include/compound-ops.lua), unblocked: counts
-- the cost in each member's window while every one so far fits, one HINCRBY each instead of a
-- read and a write. All fit: writes each member's reply to out[o + 1], ..., out[o + m] and
-- returns m + 1. Else takes every count back exactly (a field this op created is deleted again,
-- and with it a key it created) and returns the position i of the member that did not fit, with
-- st[1], ..., st[i] the states of members 1 to i before the op (as read would give them). A
-- member's window field and TTL are kept on its params, which last for every op of one
-- compound limiter in a call (the members' windows differ, so one cache each).
local fwCounts = {}
function fixedWindow.decideAll(k, m, params, now, cost, costArg, out, o, st)
  local i = 1
  while i <= m do
    local p = params[i]
    if p.now ~= now then
      local W = p.window
      local elapsed = now % W
      p.field = format('%d', (now - elapsed) / W)
      p.untilEnd = W - elapsed
      p.ttl = format('%d', p.untilEnd)
      p.now = now
    end
    local count = redis.call('HINCRBY', KEYS[k + i - 1], p.field, costArg)
    fwCounts[i] = count
    if count > p.limit then break end
    i = i + 1
  end
  if i > m then
    for j = 1, m do
      local p, count = params[j], fwCounts[j]
      fixedWindowExpire(KEYS[k + j - 1], p.field, count, cost, costArg, p.ttl)
      out[o + j] = reply(p.limit, true, p.limit - count, p.untilEnd, 0)
    end
    return i
  end
  for j = 1, i do
    local p, count = params[j], fwCounts[j] - cost
    -- Member i's field existed (count > L >= cost); a member before it may have been new.
    if count == 0 then
      redis.call('HDEL', KEYS[k + j - 1], p.field)
    else
      redis.call('HINCRBY', KEYS[k + j - 1], p.field, '-' .. costArg)
    end
    st[j] = { field = p.field, untilEnd = p.untilEnd, ttl = p.ttl, count = count }
  end
  return i
end
