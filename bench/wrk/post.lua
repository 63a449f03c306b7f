-- post.lua: the wrk script of every scenario. It POSTs GraphQL requests
-- whose JSON bodies it reads, one per line, from the file that BENCH_BODIES
-- names (written by bench/check, so the load sends exactly the requests
-- whose answers were checked), in turn: list, search and deep have one
-- body, get has one per ID 1..1000, add one per name. When BENCH_TOKEN is
-- set, every request carries it as a bearer token (add needs it).
--
-- Every request string is built once, in init, with wrk.format: building
-- strings per request would spend on the load generator's core the time
-- it should spend sending.
--
-- done() prints one line for bench/run to parse:
--   bench-result requests=N duration_s=S rps=R p50_ms=A p99_ms=B max_ms=C non2xx=D socket_errors=E
-- (wrk counts a status of 400 and up as non2xx; socket_errors are connect,
-- read, write and timeout errors.)

local bodies_path = os.getenv("BENCH_BODIES")
local token = os.getenv("BENCH_TOKEN")

local requests = {}
local n, i = 0, 0
local threads = 0

-- setup runs in the main Lua state, once per thread: number the threads
-- so that each starts at a different body.
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

function init(args)
  assert(bodies_path and bodies_path ~= "", "BENCH_BODIES must name a file of request bodies")
  local f = assert(io.open(bodies_path, "r"))
  local headers = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  for line in f:lines() do
    if line ~= "" then
      n = n + 1
      -- nil path: the path of the URL given to wrk (/graphql).
      requests[n] = wrk.format("POST", nil, headers, line)
    end
  end
  f:close()
  assert(n > 0, bodies_path .. " holds no request body")
  i = ((thread_index or 0) * 7919) % n
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "bench-result requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
