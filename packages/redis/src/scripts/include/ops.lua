-- The op loop of a one-algorithm script: runs the ops of one batch in issue order against the
-- algorithm table A (included before this file) and returns one reply per op, in order.
-- Per op, KEYS: state key, block key. ARGV, in one of two forms:
--   long:  CODE, cost, now, n, then A.nparams params (CODE in upper case)
--   short: code, cost (lower case): now, n and the params are the previous op's, as for the
--          ops of one limiter in one turn (each argument costs Redis about as much to take in
--          as a small command, so a batch sends the shared part once).
--   run:   x, count: the next `count` ops (count >= 2) are decides of cost 1 in the short form,
--          the usual bulk of a turn: two arguments for all of them instead of two each (each
--          argument also costs the client ~1,800 instructions to send).
-- Codes: d = decide (n = blockDurationMs, 0 for none), p = peek, r = refund, b = block
-- (n = durationMs), l = release (concurrency; the lease is its last param).

-- A decision that is not blocked: read, answer, write when admitted (or the algorithm's own
-- faster decide). A denial may settle an equivalent state (sliding log).
local function decide(key, p, now, cost, costArg)
  if A.decide then return A.decide(key, p, now, cost, costArg) end
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

noBlockAmong(2, 2)
local LONG = { D = 'd', P = 'p', R = 'r', B = 'b', L = 'l' }
local out = {}
local k, a, argc, o = 1, 1, #ARGV, 0
local p, now, n = nil, nil, nil
while a <= argc do
  local code = ARGV[a]
  local costArg = ARGV[a + 1]
  local cost = tonumber(costArg)
  local short = LONG[code]
  local count = 1
  if short then
    code = short
    now = clockOf(ARGV[a + 2])
    n = tonumber(ARGV[a + 3])
    p = A.params(ARGV, a + 4)
    a = a + 4 + A.nparams
  else
    if not p then return redis.error_reply('tollgate: a short op comes first') end
    if code == 'x' then
      code, count, costArg, cost = 'd', cost, '1', 1
    end
    a = a + 2
  end
  for _ = 1, count do
    local key, blockKey = KEYS[k], KEYS[k + 1]
    if code == 'd' then
      local untilT = blockedUntil(blockKey, now)
      if untilT then
        local allowed, _, _, retry, stateResetMs = look(key, p, now, cost)
        o = o + 1
        out[o] = blockedReply(p.limit, untilT, now, allowed, stateResetMs, retry)
      else
        local allowed, remaining, resetMs, retry = decide(key, p, now, cost, costArg)
        if not allowed and n > 0 then
          -- blockDurationMs: this denial blocks the key in the same call and answers as the
          -- block now does (its retry covers the block).
          setBlock(blockKey, now, n, true)
          o = o + 1
          out[o] = blockedReply(p.limit, now + n, now, false, resetMs, retry)
        else
          o = o + 1
          out[o] = reply(p.limit, allowed, remaining, resetMs, retry)
        end
      end
    elseif code == 'p' then
      local untilT = blockedUntil(blockKey, now)
      local allowed, remaining, resetMs, retry, stateResetMs = look(key, p, now, cost)
      o = o + 1
      if untilT then
        out[o] = blockedReply(p.limit, untilT, now, allowed, stateResetMs, retry)
      else
        out[o] = reply(p.limit, allowed, remaining, resetMs, retry)
      end
    elseif code == 'r' then
      A.refund(key, p, now, cost)
      o = o + 1
      out[o] = 0
    elseif code == 'b' then
      setBlock(blockKey, now, n, false)
      o = o + 1
      out[o] = 0
    elseif code == 'l' then
      A.release(key, now, p.lease)
      o = o + 1
      out[o] = 0
    else
      return redis.error_reply('tollgate: unknown op ' .. tostring(code))
    end
    k = k + 2
  end
end
return out
