-- The op loop of the compound script (docs/semantics.md, "Compound"): all or nothing over the
-- members, in one call on one slot. Per op, KEYS: the m members' state keys (by position), then
-- the compound's block key; ARGV in one of two forms, as in ops.lua:
--   long:  CODE, cost, now, n, m, then per member its kind code (fw | sw | sl | tb) and that
--          kind's params (CODE in upper case)
--   short: code, cost (lower case): now, n, m, the members and their params are the previous
--          op's (the ops of one compound limiter in one turn).
--   run:   x, count: the next `count` ops (count >= 2) are decides of cost 1 in the short form.
-- Codes as in ops.lua (no release).
-- Reply: one flat array. Per decide or peek its m parts, each one decision reply (the op is
-- admitted when every part is: a blocked or denied op has a denied part); per refund or block a
-- 0. A flat array costs Redis (and the client) less than an array per op.
local DEFINE = { fw = defineFixedWindow, sw = defineSlidingWindow, sl = defineSlidingLog,
  tb = defineTokenBucket }
local NPARAMS = { fw = 2, sw = 2, sl = 2, tb = 3 }
local KINDS = {}
-- A member's kind by its code, defined on first use.
local function kindOf(code)
  local A = KINDS[code]
  if A == nil then
    A = DEFINE[code]()
    KINDS[code] = A
  end
  return A
end

local LONG = { D = 'd', P = 'p', R = 'r', B = 'b' }
local argc = #ARGV

-- Blocks are rare: one EXISTS over the call's block keys (each once) instead of a GET per op, as
-- noBlockAmong does for the one-algorithm scripts. A first pass finds each op's block key; a
-- call of one op keeps its GET.
if LONG[ARGV[1]] and #KEYS > tonumber(ARGV[5]) + 1 then
  local list, seen, j, k, a, m = {}, {}, 0, 1, 1, 0
  while a <= argc do
    local ops = 1
    if LONG[ARGV[a]] then
      m = tonumber(ARGV[a + 4])
      a = a + 5
      for _ = 1, m do a = a + 1 + NPARAMS[ARGV[a]] end
    else
      if ARGV[a] == 'x' then ops = tonumber(ARGV[a + 1]) end
      a = a + 2
    end
    for _ = 1, ops do
      k = k + m + 1
      local key = KEYS[k - 1]
      if not seen[key] then
        seen[key] = true
        j = j + 1
        list[j] = key
      end
    end
  end
  noBlocks = redis.call('EXISTS', unpack(list)) == 0
end

local out, o = {}, 0
local k, a = 1, 1
-- The current op's now, n, m, its members' kind codes and params; `fixed`: every member a fixed
-- window.
local now, n, m, kinds, params, fixed = nil, nil, nil, nil, nil, false
-- Per member of the current op: its state before the op. Reused by every op.
local st = {}
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
    m = tonumber(ARGV[a + 4])
    a = a + 5
    kinds, params, fixed = {}, {}, true
    for i = 1, m do
      local kind = ARGV[a]
      kinds[i] = kind
      if kind == 'fw' then
        -- fixedWindow.params, without defining fixedWindow.
        params[i] = { limit = tonumber(ARGV[a + 1]), window = tonumber(ARGV[a + 2]) }
      else
        fixed = false
        params[i] = kindOf(kind).params(ARGV, a + 1)
      end
      a = a + 1 + NPARAMS[kind]
    end
  else
    if not kinds then return redis.error_reply('tollgate: a short op comes first') end
    if code == 'x' then
      code, count, costArg, cost = 'd', cost, '1', 1
    end
    a = a + 2
  end
  for _ = 1, count do
    local blockKey = KEYS[k + m]
    if code == 'r' then
      for i = 1, m do kindOf(kinds[i]).refund(KEYS[k + i - 1], params[i], now, cost) end
      o = o + 1
      out[o] = 0
    elseif code == 'b' then
      setBlock(blockKey, now, n, false)
      o = o + 1
      out[o] = 0
    elseif code == 'd' or code == 'p' then
      local untilT = blockedUntil(blockKey, now)
      local deciding = code == 'd' and not untilT
      -- Members whose state before the op is known (st[1..known]) without a read.
      local known = 0
      if deciding and fixed then
        -- Counted at once; a denial has taken every count back and tells the states it saw.
        known = fixedWindowsDecide(k, m, params, now, cost, costArg, out, o, st)
      end
      if known <= m then
        -- Every member answers as if alone, from its state before the op.
        local all = true
        local members, al, re, rs, rt = {}, {}, {}, {}, {}
        for i = 1, m do
          local A, p = kindOf(kinds[i]), params[i]
          members[i] = A
          if i > known then st[i] = A.read(KEYS[k + i - 1], p, now) end
          al[i], re[i], rs[i], rt[i] = A.answer(st[i], p, now, cost)
          if not al[i] then all = false end
        end
        if deciding and not all and n > 0 then
          setBlock(blockKey, now, n, true)
          untilT = now + n
        end
        for i = 1, m do
          local A, p, s = members[i], params[i], st[i]
          if untilT then
            -- Blocked (or blocked by this denial): each part by the block rule from its state.
            local stateResetMs = rs[i]
            if al[i] then
              local _
              _, stateResetMs = A.idle(s, p)
            end
            out[o + i] = blockedReply(p.limit, untilT, now, al[i], stateResetMs, rt[i])
          elseif all then
            if deciding then A.write(KEYS[k + i - 1], s, p, now, cost) end
            out[o + i] = reply(p.limit, true, re[i], rs[i], 0)
          elseif al[i] then
            -- Would admit, but the compound is denied: nothing consumed, its unchanged state.
            local remaining, resetMs = A.idle(s, p)
            out[o + i] = reply(p.limit, true, remaining, resetMs, 0)
          else
            if deciding and A.settle then A.settle(KEYS[k + i - 1], s) end
            out[o + i] = reply(p.limit, false, re[i], rs[i], rt[i])
          end
        end
      end
      o = o + m
    else
      return redis.error_reply('tollgate: unknown op ' .. tostring(code))
    end
    k = k + m + 1
  end
end
return out
