package redis

import goredis "github.com/redis/go-redis/v9"

// The scripts below are the store's only commands: each operation is one
// script, so it is atomic and takes one round trip. go-redis runs them with
// EVALSHA and falls back to EVAL when the server does not have them cached
// (after a restart, a failover or SCRIPT FLUSH).
//
// Arguments are packed into fixed-width decimal fields of one string, so a
// call boxes few values. Times are Unix nanoseconds offset by 2^63 and
// written as 20 digits (see appendTime); they are compared by their two
// 10-digit halves, because a Lua number is a double and is exact only up to
// 2^53, while Unix nanoseconds are about 1.8e18.
//
// A window record is 72 characters: start (20), end (20), limit (16 digits,
// or "-000000000000001" for unlimited) and the time its counter expires at
// in Unix milliseconds (16). A counter keeps that time in its field x, and
// a deduction moves the expiry only later (PEXPIREAT), so most deductions
// do not touch it. The day aggregates are pruned, and their expiry set,
// when a charge starts a day's aggregate and the day differs from the one
// last pruned (field p): once a day per client, so the hash lasts at least
// Retention after the end of the latest day charged.
//
// Credits stay exact: increments use HINCRBY (int64 arithmetic in Redis),
// values are returned as the strings Redis holds or as Lua numbers only
// when they are below 2^53, and tonumber is applied only to limits and
// costs (at most core.MaxCredits = 2^53-1) and to a window's usage in the
// comparison used <= limit-cost. There, limit-cost is exact (both operands
// are below 2^53), and a usage of 2^53 or more (possible only after an
// unlimited quota in the same window) converts to a double of at least 2^53,
// which still compares correctly as above any limit.

// prelude is shared by every script.
const prelude = `
local function before(a, b)
  if a == b then return false end
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 11, 20)) < tonumber(string.sub(b, 11, 20))
end
local function exact(v, key, field)
  if v < 9007199254740992 and v > -9007199254740992 then return v end
  return redis.call('HGET', key, field)
end
local function decrement(key, field, amount)
  if amount == '0' then return end
  if redis.call('HINCRBY', key, field, '-' .. amount) < 0 then
    redis.call('HSET', key, field, '0')
  end
end
`

// deductScript: KEYS are the window counters then the day aggregates.
// ARGV[1]: cost (16), prune cutoff (20), retention ms (16, zero: keep),
// the window records, then the day field.
var deductScript = goredis.NewScript(prelude + `
local a = ARGV[1]
local cost = string.match(string.sub(a, 1, 16), '^0*(%d+)$')
local costn = tonumber(cost)
local n = #KEYS - 1
local out = {1}
local held = {}
for i = 1, n do
  local o = 52 + (i - 1) * 72
  local s = string.sub(a, o + 1, o + 20)
  local lim = string.sub(a, o + 41, o + 56)
  local cur = redis.call('HMGET', KEYS[i], 's', 'u', 'x')
  local u = '0'
  if cur[1] and cur[2] and not before(cur[1], s) then
    u = cur[2]
    held[i] = cur[3] or '0'
  end
  out[i + 1] = u
  if costn > 0 and string.byte(lim, 1) ~= 45 and tonumber(u) > tonumber(lim) - costn then
    out[1] = 0
  end
end
if out[1] == 0 or costn == 0 then return out end
for i = 1, n do
  local o = 52 + (i - 1) * 72
  local x = string.sub(a, o + 57, o + 72)
  if held[i] then
    out[i + 1] = exact(redis.call('HINCRBY', KEYS[i], 'u', cost), KEYS[i], 'u')
    if tonumber(x) > tonumber(held[i]) then
      redis.call('HSET', KEYS[i], 'x', x)
      redis.call('PEXPIREAT', KEYS[i], string.match(x, '^0*(%d+)$'))
    end
  else
    redis.call('HSET', KEYS[i], 's', string.sub(a, o + 1, o + 20), 'u', cost, 'x', x)
    redis.call('PEXPIREAT', KEYS[i], string.match(x, '^0*(%d+)$'))
    out[i + 1] = cost
  end
end
local dk = KEYS[n + 1]
local field = string.sub(a, 53 + n * 72)
local keep = string.match(string.sub(a, 37, 52), '^0*(%d+)$')
if redis.call('HINCRBY', dk, field, cost) == costn and keep ~= '0' then
  local day = string.sub(field, 1, 20)
  if redis.call('HGET', dk, 'p') ~= day then
    redis.call('HSET', dk, 'p', day)
    local cutoff = string.sub(a, 17, 36)
    for _, f in ipairs(redis.call('HKEYS', dk)) do
      if #f >= 40 and before(string.sub(f, 1, 20), cutoff) then
        redis.call('HDEL', dk, f)
      end
    end
    redis.call('PEXPIRE', dk, keep)
  end
end
return out
`)

// refundScript: KEYS and ARGV[1] as for deductScript.
var refundScript = goredis.NewScript(prelude + `
local a = ARGV[1]
local cost = string.match(string.sub(a, 1, 16), '^0*(%d+)$')
local n = #KEYS - 1
for i = 1, n do
  local o = 52 + (i - 1) * 72
  if redis.call('HGET', KEYS[i], 's') == string.sub(a, o + 1, o + 20) then
    decrement(KEYS[i], 'u', cost)
  end
end
local dk = KEYS[n + 1]
local field = string.sub(a, 53 + n * 72)
if redis.call('HEXISTS', dk, field) == 1 then
  decrement(dk, field, cost)
end
return {}
`)

// usageScript: KEYS are the window counters; ARGV[1] the window records.
var usageScript = goredis.NewScript(prelude + `
local a = ARGV[1]
local out = {}
for i = 1, #KEYS do
  local o = (i - 1) * 72
  local cur = redis.call('HMGET', KEYS[i], 's', 'u')
  if cur[1] and cur[2] and not before(cur[1], string.sub(a, o + 1, o + 20)) then
    out[i] = cur[2]
  else
    out[i] = '0'
  end
end
return out
`)

// reportScript: KEYS[1] is the day aggregates; ARGV[1] is from (20) and
// to (20). It returns the matching fields and values, flattened.
var reportScript = goredis.NewScript(prelude + `
local from, to = string.sub(ARGV[1], 1, 20), string.sub(ARGV[1], 21, 40)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local f = all[i]
  if #f >= 40 then
    local s = string.sub(f, 1, 20)
    if not before(s, from) and before(s, to) then
      out[#out + 1] = f
      out[#out + 1] = all[i + 1]
    end
  end
end
return out
`)

// deleteScript: KEYS are the window counters then the day aggregates;
// ARGV[1] is from (20), to (20) and the window records. It returns the
// credits of the removed aggregates, which the caller sums exactly.
var deleteScript = goredis.NewScript(prelude + `
local a = ARGV[1]
local from, to = string.sub(a, 1, 20), string.sub(a, 21, 40)
local n = #KEYS - 1
local dk = KEYS[n + 1]
local held = {}
for i = 1, n do
  local o = 40 + (i - 1) * 72
  held[i] = redis.call('HGET', KEYS[i], 's') == string.sub(a, o + 1, o + 20)
end
local all = redis.call('HGETALL', dk)
local out = {}
for j = 1, #all, 2 do
  local f = all[j]
  if #f >= 40 then
    local s, e = string.sub(f, 1, 20), string.sub(f, 21, 40)
    if not before(s, from) and before(s, to) then
      local credits = all[j + 1]
      out[#out + 1] = credits
      for i = 1, n do
        local o = 40 + (i - 1) * 72
        if held[i] and before(s, string.sub(a, o + 21, o + 40)) and before(string.sub(a, o + 1, o + 20), e) then
          decrement(KEYS[i], 'u', credits)
        end
      end
      redis.call('HDEL', dk, f)
    end
  end
end
return out
`)
