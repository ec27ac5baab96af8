-- The op loop of a one-algorithm script: runs the ops of one batch in issue order against the
-- algorithm table A (included before this file) and returns one reply per op, in order.
-- Per op, KEYS: state key, block key; ARGV: code, now, cost, n, then A.nparams params.
-- Codes: d = decide (n = blockDurationMs, 0 for none), p = peek, r = refund, b = block
-- (n = durationMs), l = release (concurrency; the lease is its last param).

-- A decision that is not blocked: read, answer, write when admitted (or the algorithm's own
-- faster decide). A denial may settle an equivalent state (sliding log).
local function decide(key, p, now, cost)
  if A.decide then return A.decide(key, p, now, cost) end
  local s = A.read(key, p, now)
  local allowed, remaining, resetMs, retry = A.answer(s, p, now, cost)
  if allowed then
    A.write(key, s, p, now, cost, p.lease)
  elseif A.settle then
    A.settle(key, s)
  end
  return allowed, remaining, resetMs, retry
end

-- What the state alone answers, and its own resetMs, without writing.
local function look(key, p, now, cost)
  local s = A.read(key, p, now)
  local allowed, remaining, resetMs, retry = A.answer(s, p, now, cost)
  local stateResetMs = resetMs
  if allowed then
    local _
    _, stateResetMs = A.idle(s, p)
  end
  return allowed, remaining, resetMs, retry, stateResetMs
end

local out = {}
local k, a, argc = 1, 1, #ARGV
local width = 4 + A.nparams
-- Consecutive ops of one limiter carry the same params: parse them once (Lua strings are
-- interned, so comparing them is a pointer compare).
local p, lastA, lastB, lastC = nil, nil, nil, nil
while a <= argc do
  local code = ARGV[a]
  local now = clockOf(ARGV[a + 1])
  local cost = tonumber(ARGV[a + 2])
  local n = tonumber(ARGV[a + 3])
  local pa, pb, pc = ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  if pa ~= lastA or pb ~= lastB or pc ~= lastC or A.nparams > 3 then
    p = A.params(ARGV, a + 4)
    lastA, lastB, lastC = pa, pb, pc
  end
  local key, blockKey = KEYS[k], KEYS[k + 1]
  if code == 'd' then
    local untilT = blockedUntil(blockKey, now)
    if untilT then
      local allowed, _, _, retry, stateResetMs = look(key, p, now, cost)
      out[#out + 1] = blockedReply(p.limit, untilT, now, allowed, stateResetMs, retry)
    else
      local allowed, remaining, resetMs, retry = decide(key, p, now, cost)
      if not allowed and n > 0 then
        -- blockDurationMs: this denial blocks the key in the same call and answers as the
        -- block now does (its retry covers the block).
        setBlock(blockKey, now, n, true)
        out[#out + 1] = blockedReply(p.limit, now + n, now, false, resetMs, retry)
      else
        out[#out + 1] = reply(p.limit, allowed, remaining, resetMs, retry)
      end
    end
  elseif code == 'p' then
    local untilT = blockedUntil(blockKey, now)
    local allowed, remaining, resetMs, retry, stateResetMs = look(key, p, now, cost)
    if untilT then
      out[#out + 1] = blockedReply(p.limit, untilT, now, allowed, stateResetMs, retry)
    else
      out[#out + 1] = reply(p.limit, allowed, remaining, resetMs, retry)
    end
  elseif code == 'r' then
    A.refund(key, p, now, cost)
    out[#out + 1] = 0
  elseif code == 'b' then
    setBlock(blockKey, now, n, false)
    out[#out + 1] = 0
  elseif code == 'l' then
    A.release(key, now, p.lease)
    out[#out + 1] = 0
  else
    return redis.error_reply('tollgate: unknown op ' .. tostring(code))
  end
  a = a + width
  k = k + 2
end
return out
