package redis

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// The scripts below are the store's commands: each operation is one script
// run with EVALSHA (EVAL when the server has lost it), so it is atomic and
// takes one round trip.
//
// Times are Unix nanoseconds offset by 2^63 and written as 8 big-endian
// bytes (see appendTime): compared for equality as strings and ordered a
// byte at a time (before), never as Lua numbers, which are doubles, exact
// only up to 2^53, while Unix nanoseconds are about 1.8e18.
//
// Credits stay exact. Costs and limits are below 2^53, and so is every
// value the scripts compute with Lua numbers; a counter of 2^53 or more is
// read as the string Redis holds and changed with HINCRBY (int64
// arithmetic in Redis). A counter never passes MaxUsage (2^63-1): before
// anything is written, a counter of 2^53 or more is checked against it
// exactly (over, on decimal digits), so no HINCRBY ever fails for
// overflow. Fits (used + cost <= limit) needs no such care: a usage of
// 2^53 or more converts to a double of at least 2^53, above any limit.
//
// The common charge (its windows and hour already counted, no alert
// levels, no idempotency key) is one HINCRBY per window and one for the
// hour: the field of a window's counter is named by its period and start,
// and the field of an aggregate of the current hour by the hour's start and
// the label, so the fields the caller names are the ones to add to. A
// field that HINCRBY creates (value = cost) is checked against the window's
// span (s<p>) or the current hour (b); if it is not the right one, or a
// window refuses, or a counter reaches 2^53, the increments are undone
// (HDEL for a created field) and the general path decides exactly, as
// everything else does: it reads first, writes after, and never stops half
// way. The helpers of the general path are created only when it runs (L).
//
// Some keys are named by the scripts rather than passed in KEYS (the day
// hashes and the two indexes): they share the client's hash tag, so they
// live on the same Redis Cluster slot as the keys passed.

// script is a Lua script and its SHA-1, as EVALSHA names it.
type script struct {
	name string
	src  string
	sha  string
}

func newScript(name, body string) *script {
	return newScriptFrom(name, prelude+"\n"+body)
}

func newScriptFrom(name, src string) *script {
	h := sha1.Sum([]byte(src))
	return &script{name: name, src: src, sha: hex.EncodeToString(h[:])}
}

// counting returns a variant of sc that counts its redis.call and
// redis.pcall calls and returns {calls, reply}: for tests that check how
// many commands an operation costs inside Redis.
func (sc *script) counting() *script {
	body := strings.TrimPrefix(sc.src, prelude)
	pre := strings.Replace(prelude, "local call = redis.call",
		"local calls = 0\nlocal function call(...) calls = calls + 1 return redis.call(...) end", 1)
	pre = strings.Replace(pre, "local pcall = redis.pcall",
		"local function pcall(...) calls = calls + 1 return redis.pcall(...) end", 1)
	src := pre + "\nlocal function body()\n" + body + "\nend\nlocal r = body()\nreturn {calls, r}\n"
	return newScriptFrom(sc.name, src)
}

// prelude is shared by every script: call, pcall, MAX (2^53, where Lua
// numbers stop being exact) and L(), which returns the helpers of the
// general paths, created at the first use in a call.
const prelude = `local call = redis.call
local pcall = redis.pcall
local MAX = 9007199254740992
local lib = nil
local function L()
  if lib then return lib end
  lib = {}
  local function before(a, b)
    for i = 1, 8 do
      local x, y = string.byte(a, i), string.byte(b, i)
      if x ~= y then return x < y end
    end
    return false
  end
  lib.before = before
  lib.over = function(u, c)
    if #u > 19 then return true end
    local uh, ul = 0, tonumber(u)
    if #u > 15 then uh, ul = tonumber(string.sub(u, 1, -16)), tonumber(string.sub(u, -15)) end
    local ch = math.floor(c / 1e15)
    local cl = c - ch * 1e15
    if cl < 0 then ch, cl = ch - 1, cl + 1e15 end
    if cl >= 1e15 then ch, cl = ch + 1, cl - 1e15 end
    local s, carry = ul + cl, 0
    if s >= 1e15 then carry, s = 1, s - 1e15 end
    local h = uh + ch + carry
    if h ~= 9223 then return h > 9223 end
    return s > 372036854775807
  end
  lib.overRoom = function(u, room)
    if #u > 19 then return true end
    if #u < 19 then u = string.rep('0', 19 - #u) .. u end
    local x, y = tonumber(string.sub(u, 1, 10)), tonumber(string.sub(room, 1, 10))
    if x ~= y then return x > y end
    return tonumber(string.sub(u, 11)) > tonumber(string.sub(room, 11))
  end
  local function expire(k, ms)
    if ms and ms > 0 then
      if call('PEXPIREAT', k, ms, 'GT') == 0 then call('PEXPIREAT', k, ms, 'NX') end
    end
  end
  lib.expire = expire
  local function chunked(cmd, k, list)
    local i, n = 1, #list
    while i <= n do
      local j = math.min(i + 999, n)
      call(cmd, k, unpack(list, i, j))
      i = j + 1
    end
  end
  lib.chunked = chunked
  lib.rollover = function(H, b, keep, X, cut)
    local I = H .. ':i'
    local all = call('HGETALL', H)
    local day = string.sub(b, 17, 24)
    local base = string.sub(b, 1, 16)
    local mv, del = {}, {}
    for j = 1, #all, 2 do
      local f = all[j]
      if string.byte(f, 1) == 108 then
        mv[#mv + 1] = base .. string.sub(f, 10)
        mv[#mv + 1] = all[j + 1]
        del[#del + 1] = f
      end
    end
    if #del > 0 then
      local AK = H .. ':d:' .. day
      chunked('HSET', AK, mv)
      chunked('HDEL', H, del)
      call('ZADD', I, tonumber(day), day)
      expire(AK, keep)
      expire(I, X)
    end
    if cut then
      local old = call('ZRANGEBYSCORE', I, '-inf', '(' .. cut, 'LIMIT', 0, 64)
      if #old > 0 then
        local ks = {}
        for j, d in ipairs(old) do ks[j] = H .. ':d:' .. d end
        call('UNLINK', unpack(ks))
        call('ZREM', I, unpack(old))
      end
    end
  end
  return lib
end`

// deductScript: KEYS[1] is the client hash, KEYS[2] the key record (only
// with an idempotency key). ARGV: the cost; meta, read only on the general
// path: the bucket (bucketLen), the client hash's expiry (ms, 16), the day
// hash's expiry (ms, 16), the prune day (8) and each window's end (8);
// each window's counter field (period digit and start: 9 bytes); the field
// of the current hour's aggregate ('l', hour start, label); each window's
// limit (see appendLimit); then with a key the record head, the record
// body and key timing (charge time 8, record lifetime ms 16, expiry ms 16).
//
// It returns {used1, ..., usedN} (integers) for a charge admitted on the
// fast path (the shortest reply: each element costs Redis about 1,500
// instructions), else {status, reset, used1, ..., usedN} and, if a window
// has alert levels, fired1, ..., firedN after them: status 1 admitted, 0
// refused, 2 refused by overflow; or {3, record} for a replay and {4,
// record} for a conflict.
var deductScript = newScript("deduct", `
local H = KEYS[1]
local cost = ARGV[1]
local costn = tonumber(cost)
if #KEYS == 1 and costn > 0 then
  local n = (#ARGV - 3) / 2
  local out = {}
  local k, fast = 0, true
  for i = 1, n do
    local W = ARGV[2 + i]
    local r = pcall('HINCRBY', H, W, cost)
    if type(r) ~= 'number' then
      fast = false
      break
    end
    k = i
    if r == costn then
      local cur = call('HGET', H, 's' .. string.sub(W, 1, 1))
      if not cur or string.sub(cur, 1, 8) ~= string.sub(W, 2, 9) then
        call('HDEL', H, W)
        k = i - 1
        fast = false
        break
      end
    end
    if r >= MAX then
      fast = false
      break
    end
    local l = ARGV[3 + n + i]
    if l ~= '-1' then
      l = tonumber(l)
      if not l or r > l then
        fast = false
        break
      end
    end
    out[i] = r
  end
  if fast then
    local LF = ARGV[3 + n]
    local a = pcall('HINCRBY', H, LF, cost)
    if type(a) == 'number' then
      if a == costn then
        local b = call('HGET', H, 'b')
        if not b or string.sub(b, 1, 8) ~= string.sub(LF, 2, 9) then
          call('HDEL', H, LF)
          a = nil
        end
      elseif a >= MAX then
        k = n + 1
        a = nil
      end
      if a then return out end
    end
  end
  for i = 1, k do call('HINCRBY', H, ARGV[2 + i], -costn) end
end
local meta = ARGV[2]
local keyed = #KEYS > 1
local last = #ARGV
if keyed then last = last - 3 end
local n = (last - 3) / 2
local LF = ARGV[3 + n]
if keyed then
  local v = call('GET', KEYS[2])
  if v and L().before(string.sub(ARGV[last + 3], 1, 8), v) then
    local KA = ARGV[last + 1]
    local ml = tonumber(string.sub(KA, 9, 13))
    if string.sub(v, 9, 13 + ml) == string.sub(KA, 9, 13 + ml) then return {3, v} end
    return {4, v}
  end
end
local fl, lims, levs = {}, {}, nil
for i = 1, n + 1 do fl[i] = ARGV[2 + i] end
for i = 1, n do
  local l = ARGV[3 + n + i]
  local ln = tonumber(l)
  if not ln then
    local lv = {}
    for x in string.gmatch(l, '[^,]+') do lv[#lv + 1] = tonumber(x) end
    ln = table.remove(lv, 1)
    fl[#fl + 1] = 'f' .. string.sub(ARGV[2 + i], 1, 1)
    lv.at = #fl
    levs = levs or {}
    levs[i] = lv
  end
  lims[i] = ln
end
local vals = call('HMGET', H, unpack(fl))
local used, field, fresh = {}, {}, nil
for i = 1, n do
  local W = ARGV[2 + i]
  if vals[i] then
    used[i], field[i] = vals[i], W
  else
    local p = string.sub(W, 1, 1)
    local cur = call('HGET', H, 's' .. p)
    if cur and L().before(string.sub(W, 2, 9), cur) then
      local cf = p .. string.sub(cur, 1, 8)
      used[i], field[i] = call('HGET', H, cf) or '0', cf
    else
      used[i], field[i] = '0', W
      fresh = fresh or {}
      fresh[i] = cur or false
    end
  end
end
local ok, ovf = 1, false
if costn > 0 then
  for i = 1, n do
    local un = tonumber(used[i])
    if lims[i] >= 0 and un > lims[i] - costn then ok = 0 end
    if un + costn >= MAX and L().over(used[i], costn) then ok, ovf = 0, true end
  end
end
local a, where, AK, AF, bcur = vals[n + 1], 1, nil, nil, nil
if costn > 0 and ok == 1 then
  if not a then
    local B = string.sub(meta, 1, 24)
    bcur = call('HGET', H, 'b')
    if not bcur or L().before(bcur, B) then
      where = 2
    elseif string.sub(bcur, 1, 8) ~= string.sub(B, 1, 8) then
      where = 3
      AK = H .. ':d:' .. string.sub(B, 17, 24)
      AF = string.sub(B, 1, 16) .. string.sub(LF, 10)
      a = call('HGET', AK, AF)
    end
    a = a or '0'
  end
  if tonumber(a) + costn >= MAX and L().over(a, costn) then ok, ovf = 0, true end
end
local out = {ok, 0}
if ok == 0 or costn == 0 then
  if ovf then out[1] = 2 end
  for i = 1, n do out[2 + i] = used[i] end
  if levs then
    for i = 1, n do out[2 + n + i] = 0 end
  end
  if ok == 0 then return out end
else
  local hs, reset, bump = {}, 0, false
  for i = 1, n do
    local un = tonumber(used[i])
    local lv = levs and levs[i]
    local nu, fired, p = nil, 0, nil
    if fresh and fresh[i] ~= nil then
      local W = ARGV[2 + i]
      p = string.sub(W, 1, 1)
      local old = fresh[i]
      if old then
        local of = nil
        if lv then of = vals[lv.at] else of = call('HGET', H, 'f' .. p) end
        if of and of ~= '0' then reset = reset + 2 ^ (i - 1) end
        call('HDEL', H, p .. string.sub(old, 1, 8))
        if of and not lv then
          hs[#hs + 1] = 'f' .. p
          hs[#hs + 1] = 0
        end
      end
      hs[#hs + 1] = 's' .. p
      hs[#hs + 1] = string.sub(W, 2, 9) .. string.sub(meta, 57 + 8 * i, 64 + 8 * i)
      hs[#hs + 1] = W
      hs[#hs + 1] = costn
      nu, bump = costn, true
    else
      if un + costn < MAX then
        nu = un + costn
        hs[#hs + 1] = field[i]
        hs[#hs + 1] = nu
      else
        nu = call('HINCRBY', H, field[i], cost)
        if nu >= MAX then nu = call('HGET', H, field[i]) end
      end
      if lv then fired = tonumber(vals[lv.at] or '0') end
    end
    out[2 + i] = nu
    if levs then
      local bits = 0
      if lv then
        local x = tonumber(nu)
        for j, l in ipairs(lv) do
          local m = 2 ^ (j - 1)
          if l > 0 and x >= l and bit.band(fired, m) == 0 then bits = bits + m end
        end
        if bits ~= 0 or p then
          hs[#hs + 1] = 'f' .. string.sub(field[i], 1, 1)
          hs[#hs + 1] = fired + bits
        end
      end
      out[2 + n + i] = bits
    end
  end
  out[2] = reset
  local X = tonumber(string.sub(meta, 25, 40))
  if where == 1 then
    local an = tonumber(a)
    if an + costn < MAX then
      hs[#hs + 1] = LF
      hs[#hs + 1] = an + costn
    else
      call('HINCRBY', H, LF, cost)
    end
  elseif where == 2 then
    if bcur then
      L().rollover(H, bcur, tonumber(string.sub(meta, 41, 56)), X, tonumber(string.sub(meta, 57, 64)))
    end
    hs[#hs + 1] = 'b'
    hs[#hs + 1] = string.sub(meta, 1, 24)
    hs[#hs + 1] = LF
    hs[#hs + 1] = costn
    bump = true
  else
    local I = H .. ':i'
    local day = string.sub(meta, 17, 24)
    call('HINCRBY', AK, AF, cost)
    call('ZADD', I, tonumber(day), day)
    L().expire(AK, tonumber(string.sub(meta, 41, 56)))
    L().expire(I, X)
    bump = true
  end
  if #hs > 0 then call('HSET', H, unpack(hs)) end
  if bump and not keyed then L().expire(H, X) end
end
if keyed then
  local KC = ARGV[last + 3]
  local ul = {}
  for i = 1, n do
    local u = out[2 + i]
    if type(u) == 'number' then u = string.format('%d', u) end
    ul[i] = u
  end
  local px = tonumber(string.sub(KC, 9, 24))
  local score = tonumber(string.sub(KC, 25, 40))
  call('SET', KEYS[2], ARGV[last + 1] .. table.concat(ul, ',') .. '\n' .. ARGV[last + 2], 'PX', px)
  local KI = H .. ':ki'
  call('ZADD', KI, score, string.sub(KEYS[2], #H + 4))
  call('ZREMRANGEBYSCORE', KI, '-inf', score - px)
  L().expire(KI, score)
  if costn == 0 then call('HSETNX', H, 'k', '1') end
  L().expire(H, tonumber(string.sub(meta, 25, 40)))
end
return out
`)

// usageScript: KEYS[1] is the client hash; ARGV each window's counter
// field. It returns each window's usage.
var usageScript = newScript("usage", `
local H = KEYS[1]
local vals = call('HMGET', H, unpack(ARGV))
for i = 1, #ARGV do
  if not vals[i] then
    local W = ARGV[i]
    local p = string.sub(W, 1, 1)
    local cur = call('HGET', H, 's' .. p)
    vals[i] = '0'
    if cur and L().before(string.sub(W, 2, 9), cur) then
      vals[i] = call('HGET', H, p .. string.sub(cur, 1, 8)) or '0'
    end
  end
end
return vals
`)

// refundScript: KEYS[1] is the client hash, KEYS[2] the key record (only
// with an idempotency key). ARGV[1] is the refund (see appendRefund), or,
// with a key, the time of the call (8): the refund is then read from the
// record, which is deleted. It returns 1 if it refunded a keyed charge.
var refundScript = newScript("refund", `
local H = KEYS[1]
local R = ARGV[1]
if #KEYS > 1 then
  local v = call('GET', KEYS[2])
  if not v or not L().before(ARGV[1], v) then return 0 end
  local ml = tonumber(string.sub(v, 9, 13))
  local rl = tonumber(string.sub(v, 14 + ml, 18 + ml))
  R = string.sub(v, 19 + ml, 18 + ml + rl)
  call('DEL', KEYS[2])
  call('ZREM', H .. ':ki', string.sub(KEYS[2], #H + 4))
end
local costn = tonumber(string.sub(R, 1, 16))
if costn == 0 then return 1 end
local B = string.sub(R, 17, 40)
local n = tonumber(string.sub(R, 41, 41))
local fl = {}
for i = 1, n do fl[i] = string.sub(R, 33 + 9 * i, 41 + 9 * i) end
local LF = string.sub(R, 42 + 9 * n)
fl[n + 1] = LF
local vals = call('HMGET', H, unpack(fl))
local hs = {}
local function less(k, f, u)
  local un = tonumber(u)
  if un < MAX then
    local v = math.max(0, un - costn)
    if k == H then
      hs[#hs + 1] = f
      hs[#hs + 1] = v
    else
      call('HSET', k, f, v)
    end
  else
    call('HINCRBY', k, f, -costn)
  end
end
for i = 1, n + 1 do
  if vals[i] then less(H, fl[i], vals[i]) end
end
if not vals[n + 1] then
  local b = call('HGET', H, 'b')
  if b and L().before(B, b) then
    local AK = H .. ':d:' .. string.sub(B, 17, 24)
    local AF = string.sub(B, 1, 16) .. string.sub(LF, 10)
    local u = call('HGET', AK, AF)
    if u then less(AK, AF, u) end
  end
end
if #hs > 0 then call('HSET', H, unpack(hs)) end
return 1
`)

// reportScript: KEYS[1] is the client hash; ARGV from (8), to (8), and
// the first and last day numbers of the range. It returns the aggregates
// whose hour starts in [from, to) as {start..end..label, credits, ...}.
var reportScript = newScript("report", `
local H, from, to = KEYS[1], ARGV[1], ARGV[2]
local before = L().before
local out = {}
for _, d in ipairs(call('ZRANGEBYSCORE', H .. ':i', ARGV[3], ARGV[4])) do
  local all = call('HGETALL', H .. ':d:' .. d)
  for j = 1, #all, 2 do
    local f = all[j]
    if not before(f, from) and before(f, to) then
      out[#out + 1] = f
      out[#out + 1] = all[j + 1]
    end
  end
end
local b = call('HGET', H, 'b')
if b and not before(b, from) and before(b, to) then
  local base = string.sub(b, 1, 16)
  local all = call('HGETALL', H)
  for j = 1, #all, 2 do
    if string.byte(all[j], 1) == 108 then
      out[#out + 1] = base .. string.sub(all[j], 10)
      out[#out + 1] = all[j + 1]
    end
  end
end
return out
`)

// deleteScript: KEYS[1] is the client hash; ARGV from (8), to (8), the
// first and last day numbers of the range, then per window its counter
// field (9) and end (8). It removes the aggregates whose hour starts in
// [from, to), takes their credits out of the windows they overlap (never
// below zero), and returns the credits removed, one value per aggregate.
var deleteScript = newScript("delete", `
local H, from, to = KEYS[1], ARGV[1], ARGV[2]
local before = L().before
local n = (#ARGV - 4) / 2
local ws = {}
if n > 0 then
  local fl = {}
  for i = 1, n do fl[i] = ARGV[3 + 2 * i] end
  local vals = call('HMGET', H, unpack(fl))
  for i = 1, n do
    if vals[i] then
      ws[#ws + 1] = {f = fl[i], s = string.sub(fl[i], 2, 9), e = ARGV[4 + 2 * i], acc = 0}
    end
  end
end
local function dec(w, amount)
  if w.zero then return end
  if call('HINCRBY', H, w.f, '-' .. amount) <= 0 then
    call('HSET', H, w.f, '0')
    w.zero = true
  end
end
local removed = {}
local function hit(f, v)
  removed[#removed + 1] = v
  local e, vn = string.sub(f, 9, 16), tonumber(v)
  for _, w in ipairs(ws) do
    if before(f, w.e) and before(w.s, e) then
      if vn >= MAX then
        dec(w, v)
      else
        if w.acc + vn >= MAX then
          dec(w, string.format('%d', w.acc))
          w.acc = 0
        end
        w.acc = w.acc + vn
      end
    end
  end
end
local I = H .. ':i'
for _, d in ipairs(call('ZRANGEBYSCORE', I, ARGV[3], ARGV[4])) do
  local AK = H .. ':d:' .. d
  local all = call('HGETALL', AK)
  local del = {}
  for j = 1, #all, 2 do
    local f = all[j]
    if not before(f, from) and before(f, to) then
      hit(f, all[j + 1])
      del[#del + 1] = f
    end
  end
  if #del * 2 == #all then
    call('UNLINK', AK)
    call('ZREM', I, d)
  elseif #del > 0 then
    L().chunked('HDEL', AK, del)
  end
end
local b = call('HGET', H, 'b')
if b and not before(b, from) and before(b, to) then
  local base = string.sub(b, 1, 16)
  local all = call('HGETALL', H)
  local del = {}
  for j = 1, #all, 2 do
    if string.byte(all[j], 1) == 108 then
      hit(base .. string.sub(all[j], 10), all[j + 1])
      del[#del + 1] = all[j]
    end
  end
  if #del > 0 then L().chunked('HDEL', H, del) end
end
for _, w in ipairs(ws) do
  if w.acc > 0 then dec(w, string.format('%d', w.acc)) end
end
return removed
`)

// exportScript reads one client, a page at a time: KEYS[1] is the client
// hash; ARGV the first day number to read ('-inf' at first), the day below
// which pages are read before the last (empty at first: the script takes
// the day before the current hour's), and the most days per page. A page
// returns {0, D0, next day, days}; the last page returns {1, D0, "", days,
// the client hash, the key records}, where days is {day, {field, value,
// ...}, ...}. The last page reads the days from D0 on, the client hash and
// the key records in one step, so that an hour moved from the client hash
// to its day while the export runs is read once.
var exportScript = newScript("export", `
local H = KEYS[1]
local I = H .. ':i'
local D0 = ARGV[2]
if D0 == '' then
  local b = call('HGET', H, 'b')
  if b then D0 = string.format('%d', tonumber(string.sub(b, 17, 24)) - 1) else D0 = '+inf' end
end
local budget = tonumber(ARGV[3])
local hi = '+inf'
if D0 ~= '+inf' then hi = '(' .. D0 end
local days = call('ZRANGEBYSCORE', I, ARGV[1], hi, 'LIMIT', 0, budget + 1)
local final = #days <= budget
if not final then
  days[#days] = nil
elseif D0 ~= '+inf' then
  for _, d in ipairs(call('ZRANGEBYSCORE', I, D0, '+inf')) do days[#days + 1] = d end
end
local arch = {}
for _, d in ipairs(days) do
  arch[#arch + 1] = d
  arch[#arch + 1] = call('HGETALL', H .. ':d:' .. d)
end
if not final then
  return {0, D0, string.format('%d', tonumber(days[#days]) + 1), arch}
end
local keys = {}
for _, m in ipairs(call('ZRANGE', H .. ':ki', 0, -1)) do
  local v = call('GET', H .. ':k:' .. m)
  if v then keys[#keys + 1] = v end
end
return {1, D0, '', arch, call('HGETALL', H), keys}
`)

// importScript writes one record. KEYS[1] is the client hash (and KEYS[2]
// the key record, for a key). ARGV[1] is the kind, then:
//
//	'w': counter field (9), end (8), used, room (19), fired, merge,
//	     hash expiry ms
//	'u': bucket, label field, used, room (19), merge, hash expiry ms,
//	     day-hash expiry ms
//	'k': record, member, lifetime ms, expiry ms, merge, hash expiry ms
//
// room is MaxUsage - used in 19 digits; merge is '1' to merge as
// core.MergeWindow and core.MergeUsage say.
var importScript = newScript("import", `
local H, kind = KEYS[1], ARGV[1]
local lb = L()
local MAXS = '9223372036854775807'
local function put(k, f, used, room, merge)
  local cur = nil
  if merge == '1' then cur = call('HGET', k, f) end
  if not cur then
    call('HSET', k, f, used)
  elseif lb.overRoom(cur, room) then
    call('HSET', k, f, MAXS)
  else
    call('HINCRBY', k, f, used)
  end
end
if kind == 'w' then
  local W, e, used, room, fired, merge = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local p, s = string.sub(W, 1, 1), string.sub(W, 2, 9)
  local S, F = 's' .. p, 'f' .. p
  local cur = call('HGET', H, S)
  if merge ~= '1' or not cur or lb.before(cur, s) then
    if cur then call('HDEL', H, p .. string.sub(cur, 1, 8)) end
    call('HSET', H, S, s .. e, W, used, F, fired)
  elseif string.sub(cur, 1, 8) == s then
    put(H, W, used, room, '1')
    local f = call('HGET', H, F)
    call('HSET', H, F, bit.bor(tonumber(f or '0'), tonumber(fired)))
  end
  lb.expire(H, tonumber(ARGV[8]))
elseif kind == 'u' then
  local B, LF, used, room, merge = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local X, keep = tonumber(ARGV[7]), tonumber(ARGV[8])
  local b = call('HGET', H, 'b')
  if not b or lb.before(b, B) then
    if b then lb.rollover(H, b, keep, X, nil) end
    call('HSET', H, 'b', B, LF, used)
  elseif string.sub(b, 1, 8) == string.sub(B, 1, 8) then
    put(H, LF, used, room, merge)
  else
    local I = H .. ':i'
    local AK = H .. ':d:' .. string.sub(B, 17, 24)
    put(AK, string.sub(B, 1, 16) .. string.sub(LF, 10), used, room, merge)
    call('ZADD', I, tonumber(string.sub(B, 17, 24)), string.sub(B, 17, 24))
    lb.expire(AK, keep)
    lb.expire(I, X)
  end
  lb.expire(H, X)
else
  if ARGV[6] == '1' and call('EXISTS', KEYS[2]) == 1 then return 0 end
  call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  local KI = H .. ':ki'
  call('ZADD', KI, ARGV[5], ARGV[3])
  lb.expire(KI, tonumber(ARGV[5]))
  call('HSETNX', H, 'k', '1')
  lb.expire(H, tonumber(ARGV[7]))
end
return 1
`)

// scripts lists every script, for loading and for tests.
var scripts = []*script{deductScript, usageScript, refundScript, reportScript, deleteScript, exportScript, importScript}
