-- The op loop of the compound script (docs/semantics.md, "Compound"): all or nothing over the
-- members, in one call on one slot. Per op, KEYS: the m members' state keys (by position), then
-- the compound's block key; ARGV in one of two forms, as in ops.lua:
--   long:  CODE, cost, now, n, m, then per member its kind code (fw | sw | sl | tb) and that
--          kind's params (CODE in upper case)
--   short: code, cost (lower case): now, n, m, the members and their params are the previous
--          op's (the ops of one compound limiter in one turn).
-- Codes as in ops.lua (no release).
-- Reply per op: {allowed (1|0), part 1, ..., part m}, each part one decision reply; 0 for a
-- refund or a block.
local KINDS = { fw = fixedWindow, sw = slidingWindow, sl = slidingLog, tb = tokenBucket }

local LONG = { D = 'd', P = 'p', R = 'r', B = 'b' }
local out = {}
local k, a, argc = 1, 1, #ARGV
local now, n, m, members, params = nil, nil, nil, nil, nil
while a <= argc do
  local code = ARGV[a]
  local cost = tonumber(ARGV[a + 1])
  local short = LONG[code]
  if short then
    code = short
    now = clockOf(ARGV[a + 2])
    n = tonumber(ARGV[a + 3])
    m = tonumber(ARGV[a + 4])
    a = a + 5
    members, params = {}, {}
    for i = 1, m do
      local A = KINDS[ARGV[a]]
      members[i] = A
      params[i] = A.params(ARGV, a + 1)
      a = a + 1 + A.nparams
    end
  else
    if not members then return redis.error_reply('tollgate: a short op comes first') end
    a = a + 2
  end
  local blockKey = KEYS[k + m]
  if code == 'r' then
    for i = 1, m do members[i].refund(KEYS[k + i - 1], params[i], now, cost) end
    out[#out + 1] = 0
  elseif code == 'b' then
    setBlock(blockKey, now, n, false)
    out[#out + 1] = 0
  elseif code == 'd' or code == 'p' then
    -- Every member answers as if alone, from its unchanged state.
    local states, answers = {}, {}
    local all = true
    for i = 1, m do
      local A, p = members[i], params[i]
      local s = A.read(KEYS[k + i - 1], p, now)
      local allowed, remaining, resetMs, retry = A.answer(s, p, now, cost)
      states[i] = s
      answers[i] = { allowed, remaining, resetMs, retry }
      if not allowed then all = false end
    end
    local untilT = blockedUntil(blockKey, now)
    if not untilT and not all and code == 'd' and n > 0 then
      setBlock(blockKey, now, n, true)
      untilT = now + n
    end
    local r = { 0 }
    for i = 1, m do
      local A, p, s, x = members[i], params[i], states[i], answers[i]
      if untilT then
        -- Blocked (or blocked by this denial): each part by the block rule from its state.
        local stateResetMs = x[3]
        if x[1] then
          local _
          _, stateResetMs = A.idle(s, p)
        end
        r[i + 1] = blockedReply(p.limit, untilT, now, x[1], stateResetMs, x[4])
      elseif all then
        if code == 'd' then A.write(KEYS[k + i - 1], s, p, now, cost) end
        r[i + 1] = reply(p.limit, true, x[2], x[3], 0)
      elseif x[1] then
        -- Would admit, but the compound is denied: nothing consumed, its unchanged state.
        local remaining, resetMs = A.idle(s, p)
        r[i + 1] = reply(p.limit, true, remaining, resetMs, 0)
      else
        if code == 'd' and A.settle then A.settle(KEYS[k + i - 1], s) end
        r[i + 1] = reply(p.limit, false, x[2], x[3], x[4])
      end
    end
    if all and not untilT then r[1] = 1 end
    out[#out + 1] = r
  else
    return redis.error_reply('tollgate: unknown op ' .. tostring(code))
  end
  k = k + m + 1
end
return out
