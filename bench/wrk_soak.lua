-- wrk script of bench/soak.py: a fixed mix of requests at a held rate, and the answers counted by status.
--   wrk -t1 ... -s bench/wrk_soak.lua URL -- <requests file> <verify token> <writer token> <rate> <seed>
-- <rate> is the requests a second to hold (0: as fast as the answers come). Each connection's next request
-- takes the next free slot of one schedule, 1/rate apart, read off the monotonic clock: the rate stays the
-- same when the server answers faster or slower (a fixed pause between requests would not). Use -t1: the
-- schedule is the thread's.
-- The requests file has one request a line, tab-separated: group, method, path, token (`verify` or
-- `writer`), body. Lines of group `status` are sent in file order, round and round (soak.py writes every
-- credential's suspension, then every reinstatement); the others are drawn at random, so the file's line
-- counts are the mix.

local threads_started = 0
local all_threads = {}

function setup(thread)
  threads_started = threads_started + 1
  thread:set("thread_index", threads_started)
  all_threads[#all_threads + 1] = thread
end

local ffi = require("ffi")
ffi.cdef([[
  typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
  int clock_gettime(int clock_id, soak_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("soak_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local random_requests, status_requests, interval
local next_slot = nil
local next_status = 0
answers_2xx, answers_4xx, answers_409, answers_429, answers_5xx, answers_other = 0, 0, 0, 0, 0, 0

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

function init(args)
  local tokens = { verify = args[2], writer = args[3] }
  local rate = tonumber(args[4]) or 0
  interval = rate > 0 and 1000 / rate or 0
  math.randomseed((tonumber(args[5]) or os.time()) * 1000 + (thread_index or 1))
  random_requests, status_requests = {}, {}
  for line in io.lines(args[1]) do
    local f = split(line)
    local headers = { ["Authorization"] = "Bearer " .. tokens[f[4]] }
    local body = nil
    if f[5] ~= "" then
      headers["Content-Type"] = "application/json"
      body = f[5]
    end
    local formatted = wrk.format(f[2], f[3], headers, body)
    if f[1] == "status" then
      status_requests[#status_requests + 1] = formatted
    else
      random_requests[#random_requests + 1] = formatted
    end
  end
end

-- One status change in 20 requests (5 %); the other 19 are drawn from the random groups, whose line counts
-- in the file (11 verify, 1 batch, 3 card token, 4 read a unit) make the rest of the mix.
local status_every = 20

function request()
  if #status_requests > 0 and math.random(1, status_every) == 1 then
    -- Round and round: all suspended, then all reinstated, then suspended again.
    next_status = next_status % #status_requests + 1
    return status_requests[next_status]
  end
  return random_requests[math.random(1, #random_requests)]
end

function delay()
  if interval == 0 then
    return 0
  end
  local now = now_ms()
  -- A slot missed by more than a second is dropped rather than sent in a burst to catch up.
  if next_slot == nil or next_slot < now - 1000 then
    next_slot = now
  end
  local slot = next_slot
  next_slot = next_slot + interval
  return math.max(0, math.floor(slot - now))
end

function response(status, headers, body)
  if status >= 500 then
    answers_5xx = answers_5xx + 1
  elseif status == 409 then
    answers_409 = answers_409 + 1
  elseif status == 429 then
    answers_429 = answers_429 + 1
  elseif status >= 400 then
    answers_4xx = answers_4xx + 1
  elseif status >= 200 and status < 300 then
    answers_2xx = answers_2xx + 1
  else
    answers_other = answers_other + 1
  end
end

function done(summary, latency, requests)
  -- A line soak.py reads: the answers by status class, summed over the threads.
  local sums = { ["2xx"] = 0, ["4xx"] = 0, ["409"] = 0, ["429"] = 0, ["5xx"] = 0, other = 0 }
  for _, thread in ipairs(all_threads) do
    sums["2xx"] = sums["2xx"] + thread:get("answers_2xx")
    sums["4xx"] = sums["4xx"] + thread:get("answers_4xx")
    sums["409"] = sums["409"] + thread:get("answers_409")
    sums["429"] = sums["429"] + thread:get("answers_429")
    sums["5xx"] = sums["5xx"] + thread:get("answers_5xx")
    sums["other"] = sums["other"] + thread:get("answers_other")
  end
  io.write(string.format(
    "SOAK-ANSWERS 2xx=%d 4xx=%d 409=%d 429=%d 5xx=%d other=%d\n",
    sums["2xx"], sums["4xx"], sums["409"], sums["429"], sums["5xx"], sums["other"]
  ))
end
