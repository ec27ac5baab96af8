-- tollgate compound: a batch of ops on compound limits, run atomically in issue order
-- (docs/semantics.md, "Compound"). An op is all or nothing over its members: admitted only if every
-- member admits, then every member consumes the cost; otherwise none does.
--
-- Per op i (issue order), KEYS and ARGV continue where op i-1's end:
--   KEYS  the state key of each of the m members, by position (each as its kind's script
--         keeps it: see fixed-window.lua, sliding-window.lua, sliding-log.lua, token-bucket.lua)
--         block key of the whole compound (a string: blockedUntil, integer epoch ms; PX = the
--         block's duration)
--   ARGV  code   d = decide, p = peek, r = refund (every member), b = block (upper case: the long form;
--                lower case: the short form, these two fields only: now, n, m and the
--                members are the previous op's, see include/compound-ops.lua)
--                x = a run of `count` (in cost's place) decides of cost 1, each as a short
--                form would be: two ARGV for all of them
--         cost   cost units of the request (positive integer <= every member's limit; '' for b)
--         now    integer epoch ms of an injected test clock, or '' for the server's TIME
--                (sec * 1000 + floor(usec / 1000), read once per call)
--         n      d: blockDurationMs, ms a denial also blocks the compound (0 = none);
--                b: durationMs of the block; else 0
--         m      number of members
--         then per member: kind code (fw | sw | sl | tb), then its params: fw, sw, sl: limit,
--                windowMs (ms); tb: capacity, refillRate, refillIntervalMs (ms)
--
-- Reply: one flat array, the ops' elements in order. d and p: m elements, part 1, ..., part m,
-- each a member's decision: one integer resetMs * (limit + 1) + remaining for a member that
-- admits when below 2^53, else {remaining, resetMs}; a denied member: {0, remaining, resetMs,
-- retryAfterMs} (integer ms); the op is admitted when every part admits (a denied or blocked op has a denied part).
-- r and b: one element, 0.

--- @include "include/prelude.lua"
--- @include "include/fixed-window-expire.lua"
--- @include "include/compound-fixed-window.lua"
-- A member kind's functions are defined only when an op needs them (fixed windows that admit
-- need none of them, see compound-fixed-window.lua): defining a function costs Redis a few
-- hundred instructions, on every call.
local function defineFixedWindow()
--- @include "include/fixed-window.lua"
  return fixedWindow
end
local function defineSlidingWindow()
--- @include "include/sliding-window.lua"
  return slidingWindow
end
local function defineSlidingLog()
--- @include "include/sliding-log.lua"
  return slidingLog
end
local function defineTokenBucket()
--- @include "include/token-bucket.lua"
  return tokenBucket
end
--- @include "include/compound-ops.lua"
