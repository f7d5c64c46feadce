package redis

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// The scripts below are the store's commands: each operation is one script
// run with EVALSHA (EVAL when the server has lost it), so it is atomic and
// takes one round trip. Every script reads what it needs before it writes
// anything, so a script never stops half way.
//
// Times are Unix nanoseconds offset by 2^63 and written as 20 digits (see
// appendTime); they are compared for equality as strings and ordered by
// their two 10-digit halves (before), because a Lua number is a double,
// exact only up to 2^53, while Unix nanoseconds are about 1.8e18.
//
// Credits stay exact. Costs and limits are below 2^53, so they and any sum
// below 2^53 are exact as Lua numbers: a counter below 2^53 - cost is read,
// added to and written back with HSET (string.format '%d'), and a larger one
// is incremented with HINCRBY (int64 arithmetic in Redis) and read back as a
// string. A counter never passes MaxUsage (2^63-1): before anything is
// written, a counter of 2^53 or more is compared with MaxUsage - cost as a
// 19-digit decimal string (over), so HINCRBY never overflows. Fits (used <=
// limit - cost) needs no such care: limit - cost is exact, and a usage of
// 2^53 or more converts to a double of at least 2^53, which still compares
// as above any limit.
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

// counting returns a variant of sc that counts its redis.call calls and
// returns {calls, reply}: for tests that check how many commands an
// operation costs inside Redis.
func (sc *script) counting() *script {
	body := strings.TrimPrefix(sc.src, prelude)
	src := strings.Replace(prelude, "local call = redis.call",
		"local calls = 0\nlocal function call(...) calls = calls + 1 return redis.call(...) end", 1) +
		"\nlocal function body()\n" + body + "\nend\nlocal r = body()\nreturn {calls, r}\n"
	return newScriptFrom(sc.name, src)
}

// prelude is shared by every script.
const prelude = `local call = redis.call
local MAX = 9007199254740992
local function str(n) return string.format('%d', n) end
local function before(a, b)
  if a == b then return false end
  local x, y = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if x ~= y then return x < y end
  return tonumber(string.sub(a, 11, 20)) < tonumber(string.sub(b, 11, 20))
end
local function over(u, room)
  if #u > 19 then return true end
  if #u < 19 then u = string.rep('0', 19 - #u) .. u end
  local x, y = tonumber(string.sub(u, 1, 10)), tonumber(string.sub(room, 1, 10))
  if x ~= y then return x > y end
  return tonumber(string.sub(u, 11)) > tonumber(string.sub(room, 11))
end
local function expire(k, ms)
  if ms and ms > 0 then
    local t = str(ms)
    if call('PEXPIREAT', k, t, 'GT') == 0 then call('PEXPIREAT', k, t, 'NX') end
  end
end
local function chunked(cmd, k, list)
  local i, n = 1, #list
  while i <= n do
    local j = math.min(i + 999, n)
    call(cmd, k, unpack(list, i, j))
    i = j + 1
  end
end
local function prune(H, I, cut)
  local old = call('ZRANGEBYSCORE', I, '-inf', '(' .. str(cut), 'LIMIT', 0, 64)
  if #old > 0 then
    local ks = {}
    for j, d in ipairs(old) do ks[j] = H .. ':d:' .. d end
    call('UNLINK', unpack(ks))
    call('ZREM', I, unpack(old))
  end
end
local function rollover(H, b, keep, X, cut)
  local I = H .. ':i'
  local all = call('HGETALL', H)
  local day = string.sub(b, 41, 48)
  local base = string.sub(b, 1, 40)
  local mv, del = {}, {}
  for j = 1, #all, 2 do
    local f = all[j]
    if string.byte(f, 1) == 108 then
      mv[#mv + 1] = base .. string.sub(f, 2)
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
  if cut then prune(H, I, cut) end
end`

// deductScript: KEYS[1] is the client hash, KEYS[2] the key record (only
// with an idempotency key). ARGV: cost, bucket (bucketLen), label field
// ('l'..label), meta (room 19, hash expiry ms 16, day-hash expiry ms 16,
// prune day 8: read only when a window or hour starts), then per window
// its period digit, span (40) and limit (see appendLimit), then with a key
// the record head, the record body and key timing (charge time 20, record
// lifetime ms 16, expiry ms 16).
//
// It returns {status, reset, used1, fired1, used2, fired2, ...}: status 1
// admitted, 0 refused, 2 refused by overflow; or {3, record} for a replay
// and {4, record} for a conflict.
var deductScript = newScript("deduct", `
local H = KEYS[1]
local cost, B, LF, meta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local costn = tonumber(cost)
local keyed = #KEYS > 1
local last = #ARGV
if keyed then last = last - 3 end
local n = (last - 4) / 3
if keyed then
  local v = call('GET', KEYS[2])
  if v and before(string.sub(ARGV[last + 3], 1, 20), string.sub(v, 1, 20)) then
    local KA = ARGV[last + 1]
    local ml = tonumber(string.sub(KA, 21, 25))
    if string.sub(v, 21, 25 + ml) == string.sub(KA, 21, 25 + ml) then return {3, v} end
    return {4, v}
  end
end
local S = {'s0', 's1', 's2', 's3', 's4', 's5', 's6'}
local U = {'u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'}
local F = {'f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6'}
local fl, ps, lim, lev, at = {}, {}, {}, {}, {}
for i = 1, n do
  local p = string.byte(ARGV[2 + 3 * i]) - 47
  ps[i] = p
  local k = #fl
  at[i] = k + 1
  fl[k + 1] = S[p]
  fl[k + 2] = U[p]
  local l = ARGV[4 + 3 * i]
  local ln = tonumber(l)
  if ln == nil then
    local lv = {}
    for x in string.gmatch(l, '[^,]+') do lv[#lv + 1] = tonumber(x) end
    ln = table.remove(lv, 1)
    lev[i] = lv
    fl[k + 3] = F[p]
  end
  lim[i] = ln
end
local nb = #fl + 1
fl[nb] = 'b'
fl[nb + 1] = LF
local vals = call('HMGET', H, unpack(fl))
local ok, ovf, room = 1, false, string.sub(meta, 1, 19)
local used, same = {}, {}
for i = 1, n do
  local k = at[i]
  local sv, se = vals[k], ARGV[3 + 3 * i]
  local s = sv == se
  if not s and sv then
    local a, b = string.sub(sv, 1, 20), string.sub(se, 1, 20)
    s = a == b or before(b, a)
  end
  same[i] = s
  local u = (s and vals[k + 1]) or '0'
  used[i] = u
  if costn > 0 then
    local un = tonumber(u)
    if lim[i] >= 0 and un > lim[i] - costn then ok = 0 end
    if un + costn >= MAX and over(u, room) then ok, ovf = 0, true end
  end
end
local bcur = vals[nb]
local where, a, AK, AF = 1, '0', nil, nil
if costn > 0 and ok == 1 then
  if bcur == B or (bcur and string.sub(bcur, 1, 20) == string.sub(B, 1, 20)) then
    a = vals[nb + 1] or '0'
  elseif not bcur or before(bcur, B) then
    where = 2
  else
    where = 3
    AK = H .. ':d:' .. string.sub(B, 41, 48)
    AF = string.sub(B, 1, 40) .. string.sub(LF, 2)
    a = call('HGET', AK, AF) or '0'
  end
  if tonumber(a) + costn >= MAX and over(a, room) then ok, ovf = 0, true end
end
local out = {ok, 0}
if ok == 0 then
  if ovf then out[1] = 2 end
  for i = 1, n do
    out[2 * i + 1] = used[i]
    out[2 * i + 2] = 0
  end
  return out
end
local X = tonumber(string.sub(meta, 20, 35))
if costn > 0 then
  local hs, reset, bump = {}, 0, false
  for i = 1, n do
    local p, k = ps[i], at[i]
    local nu, fired
    if same[i] then
      local un = tonumber(used[i])
      if un + costn < MAX then
        nu = un + costn
        hs[#hs + 1] = U[p]
        hs[#hs + 1] = str(nu)
      else
        nu = call('HINCRBY', H, U[p], cost)
        if nu >= MAX then nu = call('HGET', H, U[p]) end
      end
      fired = lev[i] and tonumber(vals[k + 2] or '0') or 0
    else
      local of = nil
      if vals[k] then
        if lev[i] then of = vals[k + 2] else of = call('HGET', H, F[p]) end
        if of and of ~= '0' then reset = reset + 2 ^ (i - 1) end
      end
      hs[#hs + 1] = S[p]
      hs[#hs + 1] = ARGV[3 + 3 * i]
      hs[#hs + 1] = U[p]
      hs[#hs + 1] = cost
      if of then
        hs[#hs + 1] = F[p]
        hs[#hs + 1] = '0'
      end
      nu, fired, bump = costn, 0, true
    end
    local bits = 0
    if lev[i] then
      local x = tonumber(nu)
      for j, l in ipairs(lev[i]) do
        local m = 2 ^ (j - 1)
        if l > 0 and x >= l and bit.band(fired, m) == 0 then bits = bits + m end
      end
      if bits ~= 0 then
        hs[#hs + 1] = F[p]
        hs[#hs + 1] = str(fired + bits)
      end
    end
    out[2 * i + 1] = nu
    out[2 * i + 2] = bits
  end
  out[2] = reset
  if where == 1 then
    local an = tonumber(a)
    if an + costn < MAX then
      hs[#hs + 1] = LF
      hs[#hs + 1] = str(an + costn)
    else
      call('HINCRBY', H, LF, cost)
    end
  elseif where == 2 then
    if bcur then rollover(H, bcur, tonumber(string.sub(meta, 36, 51)), X, tonumber(string.sub(meta, 52, 59))) end
    hs[#hs + 1] = 'b'
    hs[#hs + 1] = B
    hs[#hs + 1] = LF
    hs[#hs + 1] = cost
    bump = true
  else
    local I = H .. ':i'
    call('HINCRBY', AK, AF, cost)
    call('ZADD', I, tonumber(string.sub(B, 41, 48)), string.sub(B, 41, 48))
    expire(AK, tonumber(string.sub(meta, 36, 51)))
    expire(I, X)
    bump = true
  end
  if #hs > 0 then call('HSET', H, unpack(hs)) end
  if bump and not keyed then expire(H, X) end
else
  for i = 1, n do
    out[2 * i + 1] = used[i]
    out[2 * i + 2] = 0
  end
end
if keyed then
  local KC = ARGV[last + 3]
  local ul = {}
  for i = 1, n do
    local u = out[2 * i + 1]
    if type(u) == 'number' then u = str(u) end
    ul[i] = u
  end
  local px = tonumber(string.sub(KC, 21, 36))
  local score = tonumber(string.sub(KC, 37, 52))
  call('SET', KEYS[2], ARGV[last + 1] .. table.concat(ul, ',') .. '\n' .. ARGV[last + 2], 'PX', str(px))
  local KI = H .. ':ki'
  call('ZADD', KI, str(score), string.sub(KEYS[2], #H + 4))
  call('ZREMRANGEBYSCORE', KI, '-inf', str(score - px))
  expire(KI, score)
  if costn == 0 then call('HSETNX', H, 'k', '1') end
  expire(H, X)
end
return out
`)

// usageScript: KEYS[1] is the client hash; ARGV the period digit and span
// of each window. It returns each window's usage.
var usageScript = newScript("usage", `
local H = KEYS[1]
local n = #ARGV / 2
local fl = {}
for i = 1, n do
  local p = ARGV[2 * i - 1]
  fl[2 * i - 1] = 's' .. p
  fl[2 * i] = 'u' .. p
end
local vals = call('HMGET', H, unpack(fl))
local out = {}
for i = 1, n do
  local sv, se = vals[2 * i - 1], ARGV[2 * i]
  local s = sv == se
  if not s and sv then
    local a, b = string.sub(sv, 1, 20), string.sub(se, 1, 20)
    s = a == b or before(b, a)
  end
  out[i] = (s and vals[2 * i]) or '0'
end
return out
`)

// refundScript: KEYS[1] is the client hash, KEYS[2] the key record (only
// with an idempotency key). ARGV[1] is the refund (see appendRefund), or,
// with a key, the time of the call (20): the refund is then read from the
// record, which is deleted. It returns 1 if it refunded a keyed charge.
var refundScript = newScript("refund", `
local H = KEYS[1]
local R = ARGV[1]
if #KEYS > 1 then
  local v = call('GET', KEYS[2])
  if not v or not before(ARGV[1], string.sub(v, 1, 20)) then return 0 end
  local ml = tonumber(string.sub(v, 21, 25))
  local rl = tonumber(string.sub(v, 26 + ml, 30 + ml))
  R = string.sub(v, 31 + ml, 30 + ml + rl)
  call('DEL', KEYS[2])
  call('ZREM', H .. ':ki', string.sub(KEYS[2], #H + 4))
end
local costn = tonumber(string.sub(R, 1, 16))
if costn == 0 then return 1 end
local B = string.sub(R, 17, 64)
local n = tonumber(string.sub(R, 65, 65))
local LF = string.sub(R, 66 + 21 * n)
local fl, starts = {}, {}
for i = 1, n do
  local o = 66 + 21 * (i - 1)
  local p = string.sub(R, o, o)
  fl[2 * i - 1] = 's' .. p
  fl[2 * i] = 'u' .. p
  starts[i] = string.sub(R, o + 1, o + 20)
end
fl[2 * n + 1] = 'b'
fl[2 * n + 2] = LF
local vals = call('HMGET', H, unpack(fl))
local hs = {}
local function less(k, f, u)
  local un = tonumber(u)
  if un < MAX then
    local v = str(math.max(0, un - costn))
    if k == H then
      hs[#hs + 1] = f
      hs[#hs + 1] = v
    else
      call('HSET', k, f, v)
    end
  else
    call('HINCRBY', k, f, '-' .. str(costn))
  end
end
for i = 1, n do
  local sv, u = vals[2 * i - 1], vals[2 * i]
  if sv and u and string.sub(sv, 1, 20) == starts[i] then less(H, fl[2 * i], u) end
end
local bcur = vals[2 * n + 1]
if bcur and string.sub(bcur, 1, 20) == string.sub(B, 1, 20) then
  if vals[2 * n + 2] then less(H, LF, vals[2 * n + 2]) end
elseif bcur and before(B, bcur) then
  local AK = H .. ':d:' .. string.sub(B, 41, 48)
  local AF = string.sub(B, 1, 40) .. string.sub(LF, 2)
  local u = call('HGET', AK, AF)
  if u then less(AK, AF, u) end
end
if #hs > 0 then call('HSET', H, unpack(hs)) end
return 1
`)

// reportScript: KEYS[1] is the client hash; ARGV from (20), to (20), and
// the first and last day numbers of the range. It returns the aggregates
// whose hour starts in [from, to) as {start..end..label, credits, ...}.
var reportScript = newScript("report", `
local H, from, to = KEYS[1], ARGV[1], ARGV[2]
local out = {}
for _, d in ipairs(call('ZRANGEBYSCORE', H .. ':i', ARGV[3], ARGV[4])) do
  local all = call('HGETALL', H .. ':d:' .. d)
  for j = 1, #all, 2 do
    local s = string.sub(all[j], 1, 20)
    if not before(s, from) and before(s, to) then
      out[#out + 1] = all[j]
      out[#out + 1] = all[j + 1]
    end
  end
end
local b = call('HGET', H, 'b')
if b then
  local s = string.sub(b, 1, 20)
  if not before(s, from) and before(s, to) then
    local base = string.sub(b, 1, 40)
    local all = call('HGETALL', H)
    for j = 1, #all, 2 do
      if string.byte(all[j], 1) == 108 then
        out[#out + 1] = base .. string.sub(all[j], 2)
        out[#out + 1] = all[j + 1]
      end
    end
  end
end
return out
`)

// deleteScript: KEYS[1] is the client hash; ARGV from (20), to (20), the
// first and last day numbers of the range, then per window its period
// digit and span (40). It removes the aggregates whose hour starts in
// [from, to), takes their credits out of the windows they overlap (never
// below zero), and returns the credits removed, one value per aggregate.
var deleteScript = newScript("delete", `
local H, from, to = KEYS[1], ARGV[1], ARGV[2]
local n = (#ARGV - 4) / 2
local ws = {}
if n > 0 then
  local fl = {}
  for i = 1, n do fl[i] = 's' .. ARGV[3 + 2 * i] end
  local vals = call('HMGET', H, unpack(fl))
  for i = 1, n do
    local se = ARGV[4 + 2 * i]
    if vals[i] and string.sub(vals[i], 1, 20) == string.sub(se, 1, 20) then
      ws[#ws + 1] = {f = 'u' .. ARGV[3 + 2 * i], s = string.sub(se, 1, 20), e = string.sub(se, 21, 40), acc = 0}
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
  local s, e, vn = string.sub(f, 1, 20), string.sub(f, 21, 40), tonumber(v)
  for _, w in ipairs(ws) do
    if before(s, w.e) and before(w.s, e) then
      if vn >= MAX then
        dec(w, v)
      else
        if w.acc + vn >= MAX then
          dec(w, str(w.acc))
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
    local s = string.sub(all[j], 1, 20)
    if not before(s, from) and before(s, to) then
      hit(all[j], all[j + 1])
      del[#del + 1] = all[j]
    end
  end
  if #del * 2 == #all then
    call('UNLINK', AK)
    call('ZREM', I, d)
  elseif #del > 0 then
    chunked('HDEL', AK, del)
  end
end
local b = call('HGET', H, 'b')
if b then
  local s = string.sub(b, 1, 20)
  if not before(s, from) and before(s, to) then
    local base = string.sub(b, 1, 40)
    local all = call('HGETALL', H)
    local del = {}
    for j = 1, #all, 2 do
      if string.byte(all[j], 1) == 108 then
        hit(base .. string.sub(all[j], 2), all[j + 1])
        del[#del + 1] = all[j]
      end
    end
    if #del > 0 then chunked('HDEL', H, del) end
  end
end
for _, w in ipairs(ws) do
  if w.acc > 0 then dec(w, str(w.acc)) end
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
  if b then D0 = str(tonumber(string.sub(b, 41, 48)) - 1) else D0 = '+inf' end
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
  return {0, D0, str(tonumber(days[#days]) + 1), arch}
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
//	'w': period digit, span (40), used, room (19), fired, merge, hash expiry ms
//	'u': bucket, label field, used, room (19), merge, hash expiry ms,
//	     day-hash expiry ms
//	'k': record, member, lifetime ms, expiry ms, merge, hash expiry ms
//
// merge is '1' to merge as core.MergeWindow and core.MergeUsage say.
var importScript = newScript("import", `
local H, kind = KEYS[1], ARGV[1]
local MAXS = '9223372036854775807'
local function put(k, f, used, room, merge)
  local cur = nil
  if merge == '1' then cur = call('HGET', k, f) end
  if not cur then
    call('HSET', k, f, used)
  elseif over(cur, room) then
    call('HSET', k, f, MAXS)
  else
    call('HINCRBY', k, f, used)
  end
end
if kind == 'w' then
  local p, se, used, room, fired, merge = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local S, U, F = 's' .. p, 'u' .. p, 'f' .. p
  local cur = call('HMGET', H, S, U, F)
  if merge ~= '1' or not cur[1] or before(cur[1], se) then
    call('HSET', H, S, se, U, used, F, fired)
  elseif string.sub(cur[1], 1, 20) == string.sub(se, 1, 20) then
    put(H, U, used, room, '1')
    call('HSET', H, F, str(bit.bor(tonumber(cur[3] or '0'), tonumber(fired))))
  end
  expire(H, tonumber(ARGV[8]))
elseif kind == 'u' then
  local B, LF, used, room, merge = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local X, keep = tonumber(ARGV[7]), tonumber(ARGV[8])
  local b = call('HGET', H, 'b')
  if not b or before(b, B) then
    if b then rollover(H, b, keep, X, nil) end
    call('HSET', H, 'b', B, LF, used)
  elseif string.sub(b, 1, 20) == string.sub(B, 1, 20) then
    put(H, LF, used, room, merge)
  else
    local I = H .. ':i'
    local AK = H .. ':d:' .. string.sub(B, 41, 48)
    put(AK, string.sub(B, 1, 40) .. string.sub(LF, 2), used, room, merge)
    call('ZADD', I, tonumber(string.sub(B, 41, 48)), string.sub(B, 41, 48))
    expire(AK, keep)
    expire(I, X)
  end
  expire(H, X)
else
  if ARGV[6] == '1' and call('EXISTS', KEYS[2]) == 1 then return 0 end
  call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  local KI = H .. ':ki'
  call('ZADD', KI, ARGV[5], ARGV[3])
  expire(KI, tonumber(ARGV[5]))
  call('HSETNX', H, 'k', '1')
  expire(H, tonumber(ARGV[7]))
end
return 1
`)

// scripts lists every script, for loading and for tests.
var scripts = []*script{deductScript, usageScript, refundScript, reportScript, deleteScript, exportScript, importScript}
