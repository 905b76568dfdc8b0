"""The Lua scripts of ``RedisCounterStore``: each call is one of these, run atomically inside Redis."""

from __future__ import annotations

# The time in ms, from Redis's clock. replicate_commands is a no-op from Redis 5 on (and needed
# before it to write after reading TIME); pcall keeps it harmless where it is gone.
NOW = """
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(x) return string.format('%.0f', x) end
"""

# One batch: the settlements queued since the last batch, then every reservation asked in this turn
# of the event loop, so a request's settlement rides with later requests' reservations and Redis
# costs one round trip per request, not two.
# KEYS: the settled counters, then every request's counters in order.
# ARGV[1]: the settlements as "window_end_ms,delta,ttl_ms,..." (delta = actual - held; "" for
# none); ARGV[2..]: one string per request, "amount,limit,window_ms,ttl_ms,..." for each of its
# counters. Numbers travel as one string per request rather than one argument each: redis-py
# encodes every argument in Python (about 0.5 µs each; a request with seven limits has 28).
# Settlements go first (a finished request gives its room back before new ones are checked); a
# settled counter whose window is not the one it was held in (ended, or gone) is left alone, since
# what was held went with it; a gauge back at 0 is deleted (and one settled above what was held after
# that is made again with the difference: that usage is new). Each request is then checked and counted
# on its own, all or nothing, in order: exactly as if each had been its own script.
# Returns "refused,used,reset_ms,window_end_ms,used,..." per request, joined by ";": refused is
# 1-based (0 = granted), then three numbers per counter. Strings, not arrays: redis-py's
# pure-Python parser takes about a fifth of a call's time to read 13 integers (measured), and
# "%.0f" keeps every digit exact (Lua numbers are doubles: exact to 2^53, far above any count).
BATCH = (
    NOW
    + """
local function numbers(text)
  local out = {}
  for x in string.gmatch(text, '[^,]+') do out[#out + 1] = tonumber(x) end
  return out
end
local settled = numbers(ARGV[1])
local s = #settled / 3
for i = 1, s do
  local key, held_end, delta, ttl = KEYS[i], settled[3 * i - 2], settled[3 * i - 1], settled[3 * i]
  local v = redis.call('HMGET', key, 'n', 'e', 't')
  local e = tonumber(v[2]) or 0
  if not v[1] and held_end == 0 and delta > 0 then
    redis.call('HSET', key, 'n', int(delta))
    if ttl > 0 then
      redis.call('HSET', key, 't', int(ttl))
      redis.call('PEXPIRE', key, int(ttl))
    end
  elseif v[1] and e == held_end and (e == 0 or e > now) then
    local n = redis.call('HINCRBY', key, 'n', int(delta))
    if n < 0 then
      n = 0
      redis.call('HSET', key, 'n', 0)
    end
    if e == 0 and n == 0 then
      redis.call('DEL', key)
    elseif e == 0 and v[3] then
      redis.call('PEXPIRE', key, v[3])
    end
  end
end
local out, ki = {}, s
for r = 2, #ARGV do
  local c = numbers(ARGV[r])
  local k = #c / 4
  local n, e, refused = {}, {}, 0
  for i = 1, k do
    local a, limit, w = c[4 * i - 3], c[4 * i - 2], c[4 * i - 1]
    local v = redis.call('HMGET', KEYS[ki + i], 'n', 'e')
    n[i], e[i] = tonumber(v[1]) or 0, tonumber(v[2]) or 0
    if w > 0 and e[i] <= now then n[i], e[i] = 0, 0 end
    if refused == 0 and n[i] + a > limit then refused = i end
  end
  if refused == 0 then
    for i = 1, k do
      local key, a, w, ttl = KEYS[ki + i], c[4 * i - 3], c[4 * i - 1], c[4 * i]
      if w > 0 and e[i] == 0 then
        e[i] = now + w
        redis.call('HSET', key, 'n', int(a), 'e', int(e[i]))
        redis.call('PEXPIREAT', key, int(e[i]))
        n[i] = a
      else
        n[i] = redis.call('HINCRBY', key, 'n', int(a))
        if w == 0 and ttl ~= 0 then
          redis.call('HSET', key, 't', int(ttl))
          redis.call('PEXPIRE', key, int(ttl))
        end
      end
    end
  end
  local o = {refused}
  for i = 1, k do
    o[3*i-1], o[3*i], o[3*i+1] = int(n[i]), int(e[i] > 0 and e[i] - now or 0), int(e[i])
  end
  out[r - 1] = table.concat(o, ',')
  ki = ki + k
end
return table.concat(out, ';')
"""
)

# KEYS: the counters. Returns "used,reset_ms,..." (two numbers per counter); writes nothing.
USED = (
    NOW
    + """
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'n', 'e')
  local n, e = tonumber(v[1]) or 0, tonumber(v[2]) or 0
  if e > 0 and e <= now then n, e = 0, 0 end
  out[2*i-1], out[2*i] = int(n), int(e > 0 and e - now or 0)
end
return table.concat(out, ',')
"""
)

# KEYS: gauges. ARGV: floor, ttl_ms per key. Sets n to the floor where it is lower (a missing key
# counts as 0; a floor of 0 creates nothing), keeping or refreshing the ttl as reserve does. A key
# holding a window ('e') is not a gauge and is left alone. Idempotent, so a retry is safe.
RAISE = """
for i, key in ipairs(KEYS) do
  local floor, ttl = ARGV[2*i-1], ARGV[2*i]
  local v = redis.call('HMGET', key, 'n', 'e', 't')
  if not v[2] and tonumber(floor) > (tonumber(v[1]) or 0) then
    redis.call('HSET', key, 'n', floor)
    if ttl == '0' then ttl = v[3] end
    if ttl and ttl ~= '0' then
      redis.call('HSET', key, 't', ttl)
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
return ''
"""
