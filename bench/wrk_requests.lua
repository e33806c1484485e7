-- wrk script for askpro's benches (driven by bench/wrk.py; not meant to be run by hand).
--
-- Every thread sends the pre-built raw HTTP requests of its own file, each at most once,
-- so signed webhook events stay distinct. Arguments after "--":
--   <requests file prefix> <rate per second, 0 = as fast as the connections allow> <seconds>
-- After <seconds> no new request is sent; the thread stops once every request it sent has
-- its response, so the acknowledged count is exact (nothing is cut off in flight).
-- With a rate, sends follow a fixed schedule per thread (open loop): a free connection
-- waits for the next slot; a slot that finds no free connection is sent late, and how late
-- is recorded (send lag), so a server that falls behind is visible, not hidden.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

-- setup / done run in the main environment ----------------------------------------------
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

-- the running phase, one environment per thread -----------------------------------------
local requests = {}
local request_count = 0 -- sent requests are dropped from the table, so # would lie
local next_request = 1
local interval_ms = 0
local stop_at = 0
local next_slot = 0
-- wrk calls request() once before the run to check the script (no delay() before it):
-- only requests announced by a delay() are really sent and consumed.
local sends_announced = 0
-- exported to done()
sent = 0
answered = 0
ok = 0
non_2xx = 0
statuses = {}
exhausted = false
lag_max_ms = 0
lag_over_5ms = 0
first_send_ms = 0
last_answer_ms = 0

function init(args)
  local path = args[1] .. "." .. thread_index
  local file = assert(io.open(path, "rb"))
  while true do
    local header = file:read("*l")
    if header == nil then break end
    table.insert(requests, file:read(tonumber(header)))
  end
  file:close()
  request_count = #requests
  local rate = tonumber(args[2])
  local threads_count = tonumber(args[4])
  if rate > 0 then
    interval_ms = 1000 * threads_count / rate
  end
  stop_at = now_ms() + 1000 * tonumber(args[3])
  next_slot = now_ms()
end

local IDLE_MS = 60000 -- "no more requests": longer than the run

function delay()
  local now = now_ms()
  if now >= stop_at or next_request + sends_announced > request_count then
    if now < stop_at then exhausted = true end
    if answered >= sent and sends_announced == 0 then wrk.thread:stop() end
    return IDLE_MS
  end
  sends_announced = sends_announced + 1
  if interval_ms == 0 then return 0 end
  next_slot = next_slot + interval_ms
  local wait = next_slot - now
  if wait < 0 then
    local lag = -wait
    if lag > lag_max_ms then lag_max_ms = lag end
    if lag > 5 then lag_over_5ms = lag_over_5ms + 1 end
    return 0
  end
  return math.floor(wait)
end

function request()
  if sends_announced == 0 then return requests[next_request] end -- wrk's check, not sent
  sends_announced = sends_announced - 1
  local raw = requests[next_request]
  requests[next_request] = nil
  next_request = next_request + 1
  if sent == 0 then first_send_ms = now_ms() end
  sent = sent + 1
  return raw
end

function response(status, headers, body)
  answered = answered + 1
  last_answer_ms = now_ms()
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non_2xx = non_2xx + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
  if last_answer_ms >= stop_at and answered >= sent and sends_announced == 0 then
    wrk.thread:stop()
  end
end

-- done: one JSON line on stdout -----------------------------------------------------------
local function json_counts(counts)
  local parts = {}
  for key, value in pairs(counts) do
    table.insert(parts, string.format('"%s":%d', key, value))
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, _)
  local total = { sent = 0, answered = 0, ok = 0, non_2xx = 0, lag_over_5ms = 0 }
  local statuses_all = {}
  local lag_max, first, last, exhausted_any = 0, nil, 0, false
  for _, thread in ipairs(threads) do
    for key, _ in pairs(total) do
      total[key] = total[key] + thread:get(key)
    end
    for status, count in pairs(thread:get("statuses")) do
      statuses_all[status] = (statuses_all[status] or 0) + count
    end
    lag_max = math.max(lag_max, thread:get("lag_max_ms"))
    local started = thread:get("first_send_ms")
    if started > 0 and (first == nil or started < first) then first = started end
    last = math.max(last, thread:get("last_answer_ms"))
    exhausted_any = exhausted_any or thread:get("exhausted")
  end
  local busy_s = (first and last > first) and (last - first) / 1000 or 0
  io.write(string.format(
    '{"sent":%d,"answered":%d,"ok":%d,"non_2xx":%d,"statuses":%s,"busy_s":%.3f,'
      .. '"socket_errors":%d,"timeouts":%d,"exhausted":%s,"send_lag_max_ms":%.2f,'
      .. '"sends_late_over_5ms":%d,"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    total.sent, total.answered, total.ok, total.non_2xx, json_counts(statuses_all), busy_s,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, tostring(exhausted_any), lag_max, total.lag_over_5ms,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
