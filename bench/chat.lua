-- wrk script: POST an OpenAI chat completion, plain or streamed with usage, and report
-- the run as one JSON line on stdout (prefixed "BENCH_RESULT ").
--
--   wrk -t1 -c32 -d70s -s bench/chat.lua <url of .../chat/completions> \
--       -- <stream 0|1> <key> <seconds>
--
-- The run ends gracefully: after <seconds> no new request is sent, the ones in flight
-- complete, then the thread stops and prints "BENCH_DRAINED" (the caller then interrupts
-- wrk's own timer, -d being only an upper bound). So no call is cut off half-way, and the
-- gateway saw exactly `sent` calls, each of which must leave a usage record.
--
-- Every response is checked, not only its status: a plain answer must be a
-- `chat.completion` with `usage`; a streamed one must carry the usage chunk and end with
-- `data: [DONE]`.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *spec);
]])
local CLOCK_MONOTONIC = 1
local spec = ffi.new("bench_timespec")

local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, spec)
  return tonumber(spec.tv_sec) + tonumber(spec.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  stream = args[1] == "1"
  local key = args[2] or "sk-none"
  local body = '{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are '
    .. 'a benchmark."},{"role":"user","content":"Say hello in twenty words, please."}]'
  if stream then
    body = body .. ',"stream":true,"stream_options":{"include_usage":true}'
  end
  body = body .. "}"
  prepared = wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, body)
  deadline = now() + tonumber(args[3] or "10")
  sent, received, good, bad_status, bad_body = 0, 0, 0, 0, 0
  last_bad = ""
  draining = false
  -- wrk calls request() once before the run to inspect what it returns (its
  -- script_verify_request, on the first thread: the benchmark runs one); that call sends
  -- nothing and must not be counted.
  verified = false
end

local function stop_when_drained()
  if received == sent then
    io.write("BENCH_DRAINED\n")
    io.stdout:flush()
    wrk.thread:stop()
  end
end

function request()
  if not verified then
    verified = true
    return prepared
  end
  if draining or now() >= deadline then
    -- Nothing more on this connection: it stays idle until the thread stops.
    draining = true
    stop_when_drained()
    return ""
  end
  sent = sent + 1
  return prepared
end

-- Proxies may reorder JSON keys; look for the parts, not for one spelling of them.
local function answer_is_complete(body)
  local has_usage = body:find('"usage":{', 1, true) ~= nil
    and body:find('"total_tokens":', 1, true) ~= nil
  if stream then
    return has_usage and body:find("data: [DONE]", 1, true) ~= nil
  end
  return has_usage and body:find('"object":"chat.completion"', 1, true) ~= nil
end

function response(status, headers, body)
  received = received + 1
  if status < 200 or status > 299 then
    bad_status = bad_status + 1
    last_bad = status .. " " .. body:sub(1, 200)
  elseif not answer_is_complete(body) then
    bad_body = bad_body + 1
    last_bad = status .. " " .. body:sub(-200)
  else
    good = good + 1
  end
  if draining then
    stop_when_drained()
  end
end

local function quoted(text)
  text = text:gsub('[%c"\\]', function(character)
    return string.format("\\u%04x", character:byte())
  end)
  return '"' .. text .. '"'
end

function done(summary, latency, requests)
  local totals = { sent = 0, received = 0, good = 0, bad_status = 0, bad_body = 0 }
  local sample = ""
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
    local bad = thread:get("last_bad")
    if bad and bad ~= "" then
      sample = bad
    end
  end
  local errors = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"sent":%d', totals.sent),
    string.format('"received":%d', totals.received),
    string.format('"good":%d', totals.good),
    string.format('"bad_status":%d', totals.bad_status),
    string.format('"bad_body":%d', totals.bad_body),
    string.format(
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}',
      errors.connect, errors.read, errors.write, errors.timeout
    ),
    string.format('"non_2xx_or_3xx":%d', errors.status),
    string.format('"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
      latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)),
    '"last_bad":' .. quoted(sample),
  }
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end
