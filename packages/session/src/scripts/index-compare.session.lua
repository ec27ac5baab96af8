-- Acts on sessions listed in one user index only if each is still exactly what the caller read
-- and judged (compare-and-delete), removing it from the index in the same step. Whatever a
-- concurrent save writes after the read makes the comparison fail, so destroyUser never deletes
-- a session it did not check and never unlists a live one (issue 14, item 3).
-- KEYS[1]     the user index (a SET of session ids)
-- KEYS[1+i]   session i's key (all in the index's slot on a Cluster)
-- ARGV[3i-2]  session i's action: 'delete' (delete it and unlist it), 'unlist' (it now belongs
--             to someone else: unlist it, keep it) or 'absent' (unlist it if it is still gone)
-- ARGV[3i-1]  session i's id, as listed in the index
-- ARGV[3i]    with 'delete' and 'unlist': the exact stored text that was read
-- Returns     an array: 1 for each session acted on, 0 for each that changed meanwhile
local done = {}
for i = 2, #KEYS do
  local action = ARGV[3 * i - 5]
  local sid = ARGV[3 * i - 4]
  local ok = 0
  if action == 'absent' then
    if redis.call('EXISTS', KEYS[i]) == 0 then
      ok = 1
    end
  elseif redis.call('GET', KEYS[i]) == ARGV[3 * i - 3] then
    if action == 'delete' then
      redis.call('DEL', KEYS[i])
    end
    ok = 1
  end
  if ok == 1 then
    redis.call('SREM', KEYS[1], sid)
  end
  done[#done + 1] = ok
end
return done
