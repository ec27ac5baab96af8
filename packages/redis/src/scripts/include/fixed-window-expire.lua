-- fixedWindow's TTL rule (docs/semantics.md, fixedWindow), apart so that compound.lua's fast
-- path of fixed windows (compound-fixed-window.lua) shares it without defining the rest of
-- fixedWindow.
--
-- After HINCRBY counted an admission: the first admission of a window (a field never holds 0)
-- sets the TTL to the window's end and drops another window's field if the key still holds
-- one; later ones leave the TTL alone, as on the server's clock it already is the window's end
-- (with an injected clock every admission restates it from its own now).
local function fixedWindowExpire(key, field, count, cost, costArg, ttl)
  if count == cost then
    if redis.call('HLEN', key) > 1 then
      redis.call('DEL', key)
      redis.call('HSET', key, field, costArg)
    end
    redis.call('PEXPIRE', key, ttl)
  elseif injected then
    redis.call('PEXPIRE', key, ttl)
  end
end
