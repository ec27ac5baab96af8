-- slidingLog (docs/semantics.md, slidingLog): exact log of admitted requests. A decision costs the
-- same few list operations however long the log is (amortized: every entry is appended once
-- and dropped once).
-- State: a list of entries "<t>:<S>:<base>:<oldest>", oldest first; absent = empty log. t =
-- integer epoch ms of an admission (requests admitted at the same t share one entry); S =
-- running total of admitted cost up to and including this entry, counted from the start of the
-- log. Only the newest entry's <base> and <oldest> are current: base = S of the newest entry
-- that has left the window (0 if none), oldest = t of the oldest entry still in the list. So
-- used = S(newest) - base, read from one element. Params: limit L (cost units per any span of
-- W ms), windowMs W (ms). The key expires at t_newest + W.
local slidingLog = { nparams = 2 }

function slidingLog.params(a, i)
  return { limit = tonumber(a[i]), window = tonumber(a[i + 1]) }
end

local function entryT(entry)
  return tonumber(sub(entry, 1, find(entry, ':', 1, true) - 1))
end

local function entryS(entry)
  local a = find(entry, ':', 1, true)
  return tonumber(sub(entry, a + 1, find(entry, ':', a + 1, true) - 1))
end

-- Reads without writing (a peek stores nothing): LINDEX -1 (the newest entry); when its
-- <oldest> has left the window, LRANGE from the head in growing chunks (4, 16, 64, ...) finds
-- how many entries left (s.dropped) and the base and oldest t they leave behind.
function slidingLog.read(key, p, now)
  local horizon = now - p.window
  local tail = redis.call('LINDEX', key, -1)
  local s = { key = key, empty = true, hadTail = tail ~= false and tail ~= nil, used = 0,
    dropped = 0, now = now }
  if not s.hadTail then return s end
  local a = find(tail, ':', 1, true)
  local b = find(tail, ':', a + 1, true)
  local c = find(tail, ':', b + 1, true)
  s.tailT = tonumber(sub(tail, 1, a - 1))
  if s.tailT <= horizon then return s end
  s.empty = false
  s.tailS = tonumber(sub(tail, a + 1, b - 1))
  s.baseS = tonumber(sub(tail, b + 1, c - 1))
  s.oldestT = tonumber(sub(tail, c + 1))
  if s.oldestT <= horizon then
    -- The tail is live, so the scan stops inside the list.
    local offset, size, pos = 0, 4, 1
    local chunk = redis.call('LRANGE', key, 0, size - 1)
    local entry = chunk[1]
    local dropped = 0
    while entryT(entry) <= horizon do
      s.baseS = entryS(entry)
      dropped = dropped + 1
      pos = pos + 1
      if pos > size then
        offset = offset + size
        size = size * 4
        chunk = redis.call('LRANGE', key, offset, offset + size - 1)
        pos = 1
      end
      entry = chunk[pos]
    end
    s.oldestT = entryT(entry)
    s.dropped = dropped
  end
  s.used = s.tailS - s.baseS
  return s
end

function slidingLog.idle(s, p)
  local remaining = p.limit - s.used
  if remaining < 0 then remaining = 0 end
  if s.empty then return remaining, 0 end
  return remaining, s.tailT + p.window - s.now
end

function slidingLog.answer(s, p, now, cost)
  if s.used + cost <= p.limit then return true, p.limit - s.used - cost, p.window, 0 end
  local remaining, resetMs = slidingLog.idle(s, p)
  -- The first live entry (oldest first) with S >= tailS + cost - L: its leaving makes room.
  -- Entries before s.dropped have left already (still in the list when nothing was written).
  local need = s.tailS + cost - p.limit
  local offset, size, pos = s.dropped, 4, 1
  local chunk = redis.call('LRANGE', s.key, offset, offset + size - 1)
  local entry = chunk[1]
  while entryS(entry) < need do
    pos = pos + 1
    if pos > size then
      offset = offset + size
      size = size * 4
      chunk = redis.call('LRANGE', s.key, offset, offset + size - 1)
      pos = 1
    end
    entry = chunk[pos]
  end
  return false, remaining, resetMs, entryT(entry) + p.window - now
end

-- An admission: a new log when it was empty or wholly out of the window; else the entries that
-- left go (one LTRIM) and the admission is appended (LSET -1 when the newest entry has the same
-- t). The key then expires at now + W.
function slidingLog.write(key, s, p, now, cost)
  if s.empty then
    if s.hadTail then redis.call('DEL', key) end
    redis.call('RPUSH', key, format('%d:%d:0:%d', now, cost, now))
  else
    if s.dropped > 0 then redis.call('LTRIM', key, s.dropped, -1) end
    local entry = format('%d:%d:%d:%d', now, s.tailS + cost, s.baseS, s.oldestT)
    if s.tailT == now then
      redis.call('LSET', key, -1, entry)
    else
      redis.call('RPUSH', key, entry)
    end
  end
  redis.call('PEXPIRE', key, p.window)
end

-- A denial may store the equivalent state without the entries that left, so the next decision
-- does not scan them again (the TTL stays: the newest entry is unchanged).
function slidingLog.settle(key, s)
  if s.dropped > 0 then
    redis.call('LTRIM', key, s.dropped, -1)
    redis.call('LSET', key, -1, format('%d:%d:%d:%d', s.tailT, s.tailS, s.baseS, s.oldestT))
  end
end

-- After the entries that left go, `cost` units come off the newest entries first (an entry
-- reduced to 0 goes): the running total of the new newest entry is tailS - min(cost, used).
-- At most `cost` entries go (each holds at least 1 unit), so one LRANGE of cost + 1 from the
-- tail sees them all. The key then expires at the new newest t + W.
function slidingLog.refund(key, p, now, cost)
  local s = slidingLog.read(key, p, now)
  if s.empty then return end
  local c = s.used
  if c > cost then c = cost end
  local total = s.tailS - c
  if total <= s.baseS then
    redis.call('DEL', key)
    return
  end
  local entries = redis.call('LRANGE', key, -(cost + 1), -1)
  local j = #entries
  -- Entry j keeps units iff the entry before it ends below the new total.
  while j > 1 and entryS(entries[j - 1]) >= total do j = j - 1 end
  local removed = #entries - j
  local t = entryT(entries[j])
  redis.call('LTRIM', key, s.dropped, -(removed + 1))
  redis.call('LSET', key, -1, format('%d:%d:%d:%d', t, total, s.baseS, s.oldestT))
  redis.call('PEXPIRE', key, t + p.window - now)
end
