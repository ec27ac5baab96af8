-- Shared by every tollgate script: the clock, the reply packing, and the block check.
--
-- Time. An op carries its own now in ARGV when the store has an injected test clock (each call
-- reads that clock when it is issued); an empty string means the server's TIME, read at most
-- once per script call (sec * 1000 + floor(usec / 1000)), so one batch decides on one instant.
local serverNow = nil
-- True while the current op runs on an injected clock: Redis expires keys on its own clock, so
-- a TTL that stays right by itself on the server clock must be restated from the op's now.
local injected = false
local function clockOf(arg)
  if arg ~= '' then
    injected = true
    return tonumber(arg)
  end
  injected = false
  if not serverNow then
    local t = redis.call('TIME')
    serverNow = t[1] * 1000 + math.floor(t[2] / 1000)
  end
  return serverNow
end

local find, sub, format, floor, ceil = string.find, string.sub, string.format, math.floor, math.ceil
-- Packed replies stay below 2^52: node-redis and ioredis 6 decode an integer digit by digit as
-- `n * 10 + byte - 48`, whose intermediate `n * 10 + byte` rounds once the number is within 48
-- of 2^53 (9007199254740981 arrives as ...980); below 2^52 every client reads it exactly.
local TWO_POW_52 = 4503599627370496

-- One decision as a reply (integers only, each below 2^53). An admission, when
-- (resetMs + 1) * (limit + 1) < 2^52, is the single integer resetMs * (limit + 1) + remaining
-- (an integer is far cheaper for Redis to reply than an array), else the array
-- {remaining, resetMs} (every element of an array costs Redis about as much as a small reply);
-- a denial is the array {0, remaining, resetMs, retryAfterMs}. The limit is the caller's own:
-- it never travels.
local function reply(limit, allowed, remaining, resetMs, retryAfterMs)
  if allowed then
    local m = limit + 1
    if (resetMs + 1) * m < TWO_POW_52 then return resetMs * m + remaining end
    return { remaining, resetMs }
  end
  return { 0, remaining, resetMs, retryAfterMs }
end

-- Blocks (docs/semantics.md, "block"). A block is a string key beside the state it blocks, in the
-- same hash-tag slot: its value is blockedUntil (integer epoch ms of the deciding clock), its
-- PX the block's duration, so it disappears when the block ends and never touches the state.
-- Block values read in this call, by key (false = none): a batch with many ops on one key reads
-- its block once. Sound because nothing else runs during a script and Redis does not expire keys
-- in the middle of one; setBlock keeps the cache current.
local blocks = {}
-- True once one EXISTS over every block key of the call found none (see noBlockAmong): then no op
-- reads its block key, as blocks are rare and each redis.call costs about as much as the op's own
-- command. A block an earlier op of this call sets is still seen, through `blocks`.
local noBlocks = false
local function blockedUntil(key, now)
  local v = blocks[key]
  if v == nil then
    if noBlocks then return nil end
    v = tonumber(redis.call('GET', key)) or false
    blocks[key] = v
  end
  if v and v > now then return v end
  return nil
end

-- Sets noBlocks when none of the block keys KEYS[first], KEYS[first + step], ... exists: one
-- call for a whole batch instead of one GET per op. They share one slot (one hash tag per
-- user key, one slot per call), so EXISTS may take them all. A call of one op keeps its GET.
local function noBlockAmong(first, step)
  local n = #KEYS
  if n <= step then return end
  local list, j = {}, 0
  for i = first, n, step do
    j = j + 1
    list[j] = KEYS[i]
  end
  noBlocks = redis.call('EXISTS', unpack(list)) == 0
end

-- Sets the block unless a later one is already there (the later blockedUntil wins).
-- `unblocked` says the caller has just seen no live block (one GET saved).
local function setBlock(key, now, durationMs, unblocked)
  local untilT = now + durationMs
  if not unblocked then
    local v = blocks[key]
    if v == nil then v = tonumber(redis.call('GET', key)) or false end
    if v and v >= untilT then
      blocks[key] = v
      return
    end
  end
  redis.call('SET', key, format('%d', untilT), 'PX', format('%d', durationMs))
  blocks[key] = untilT
end

-- What a blocked key answers: denied, nothing consumed, remaining 0, retryAfterMs = the larger
-- of the block's rest and the state's own wait (0 if it would admit), resetMs = the larger of
-- the block's rest and the state's own reset.
local function blockedReply(limit, untilT, now, allowed, stateResetMs, retryAfterMs)
  local rest = untilT - now
  local retry = rest
  if not allowed and retryAfterMs > rest then retry = retryAfterMs end
  local resetMs = rest
  if stateResetMs > rest then resetMs = stateResetMs end
  return { 0, 0, resetMs, retry }
end
