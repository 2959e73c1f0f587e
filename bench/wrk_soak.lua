-- wrk script of bench/soak.py: a fixed mix of requests at a held rate, and the answers counted by status.
--   wrk -t1 ... -s bench/wrk_soak.lua URL -- <requests file> <verify token> <writer token> <delay ms> <seed>
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

local random_requests, status_requests, pause
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
  pause = tonumber(args[4]) or 0
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
  return pause
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
