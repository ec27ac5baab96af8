-- Lists a Cluster slot in a user's directory before a session of that user is written (or
-- renewed) there, so that a session never lives in a slot the directory does not list. Each slot
-- is kept until the last session written there can have expired (its score, on this node's
-- clock), never less: the directory forgets only slots whose sessions are all gone, with no race
-- against a concurrent save (that save has raised the score first).
-- KEYS[1]  the user's directory (a ZSET: member = slot hash tag, score = epoch ms listed until)
-- ARGV[1]  the slot's hash tag
-- ARGV[2]  integer milliseconds the slot must stay listed (session TTL plus slack); 0: forever
-- Returns  1
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  redis.call('ZADD', KEYS[1], 'GT', '+inf', ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'GT', string.format('%d', now + ttl), ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now))
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] == 'inf' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], string.format('%d', tonumber(top[2]) - now + 1))
end
return 1
