-- Token buckets shared by sluice processes (policy/ratestore.go).
--
-- Takes tokens from one token bucket per key, each atomically (the whole
-- script runs without another command in between). A bucket is a hash
-- {t = tokens, u = time of t in microseconds}; a missing key is a full
-- bucket, and the key expires when the bucket would be full again.
--
-- KEYS[i]  the bucket of request i.
-- ARGV[1]  now in microseconds, or "" for the server's clock (TIME): one
--          clock for every process, whatever theirs say. (Tests pass it.)
-- ARGV[4i-2 .. 4i+1], for request i:
--   rate    tokens added a second (> 0)
--   burst   the most tokens the bucket holds (>= 1)
--   charge  tokens the process spent on credit: taken whatever the
--           bucket holds, so that it may go negative and refuse later
--           what was spent early (the long-run rate stays exact)
--   want    tokens to lease: granted as far as whole tokens remain
--
-- Reply: a flat array, for request i: granted (0..want), then wait, the
-- microseconds until the bucket holds a whole token again (0 if it does).

if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: TIME before writes
end

local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local out = {}
for i, key in ipairs(KEYS) do
  local a = 4 * i - 2
  local rate = tonumber(ARGV[a])
  local burst = tonumber(ARGV[a + 1])
  local charge = tonumber(ARGV[a + 2])
  local want = tonumber(ARGV[a + 3])

  local tokens, at = burst, now
  local h = redis.call('HMGET', key, 't', 'u')
  if h[1] and h[2] then
    tokens, at = tonumber(h[1]), tonumber(h[2])
  end
  if now > at then
    -- A clock that went back (a failover) refills nothing until it has
    -- caught up again.
    tokens = tokens + (now - at) * rate / 1e6
    at = now
  end
  tokens = math.min(tokens, burst) - charge

  local granted = 0
  if tokens >= 1 then
    granted = math.min(want, math.floor(tokens))
    tokens = tokens - granted
  end
  local wait = 0
  if tokens < 1 then
    wait = math.ceil((1 - tokens) * 1e6 / rate)
  end

  redis.call('HSET', key, 't', string.format('%.17g', tokens), 'u', string.format('%d', at))
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) * 1000 / rate) + 1000)
  out[2 * i - 1] = granted
  out[2 * i] = wait
end
return out
