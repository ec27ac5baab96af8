-- A decision of a compound of fixed windows only, unblocked (include/compound-ops.lua;
-- docs/semantics.md, fixedWindow and "Compound"), without fixedWindow's read and write: counts
-- the cost in each member's window while every one so far fits, one HINCRBY each instead of an
-- HGET and an HINCRBY. All fit: sets each member's TTL as fixedWindow does, writes its reply to
-- out[o + 1], ..., out[o + m] and returns m + 1. Else takes every count back exactly (a field
-- this op created is deleted again, and with it a key it created) and returns the position i of
-- the member that did not fit, with st[1], ..., st[i] the states of members 1 to i before the
-- op, as fixedWindow.read gives them. A member's params are fixedWindow's ({ limit, window });
-- its window's field name and TTL (formatted when first needed) are kept on them, as they last
-- for every op of one compound limiter in a call (the members' windows differ: one cache each).
local fixedCounts = {}
local function fixedWindowsDecide(k, m, params, now, cost, costArg, out, o, st)
  local i = 1
  while i <= m do
    local p = params[i]
    if p.now ~= now then
      local W = p.window
      local elapsed = now % W
      p.field = format('%d', (now - elapsed) / W)
      p.untilEnd = W - elapsed
      p.ttl = nil
      p.now = now
    end
    local count = redis.call('HINCRBY', KEYS[k + i - 1], p.field, costArg)
    fixedCounts[i] = count
    if count > p.limit then break end
    i = i + 1
  end
  if i > m then
    for j = 1, m do
      local p, count = params[j], fixedCounts[j]
      -- Only a window's first admission (or an injected clock) sets the TTL: formatted then.
      if count == cost or injected then
        p.ttl = p.ttl or format('%d', p.untilEnd)
        fixedWindowExpire(KEYS[k + j - 1], p.field, count, cost, costArg, p.ttl)
      end
      out[o + j] = reply(p.limit, true, p.limit - count, p.untilEnd, 0)
    end
    return i
  end
  for j = 1, i do
    local p, count = params[j], fixedCounts[j] - cost
    -- Member i's field existed (its count > L >= cost); a member before it may be new.
    if count == 0 then
      redis.call('HDEL', KEYS[k + j - 1], p.field)
    else
      redis.call('HINCRBY', KEYS[k + j - 1], p.field, '-' .. costArg)
    end
    p.ttl = p.ttl or format('%d', p.untilEnd)
    st[j] = { field = p.field, untilEnd = p.untilEnd, ttl = p.ttl, count = count }
  end
  return i
end
