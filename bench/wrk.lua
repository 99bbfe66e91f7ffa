-- Shared by every measurement: the method and body come from the environment, and done()
-- prints one JSON line the bench reads (wrk's own text output rounds the percentiles).
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local content_type = os.getenv("BENCH_CONTENT_TYPE")
-- Stop after this many responses per thread (0: run for the whole duration), to stay inside a
-- rate limit instead of measuring its 429s.
local max_per_thread = tonumber(os.getenv("BENCH_MAX_PER_THREAD") or "0")

wrk.method = method
if body and body ~= "" then
  wrk.body = body
end
if content_type and content_type ~= "" then
  wrk.headers["Content-Type"] = content_type
end

-- Defined only when needed: wrk skips handing responses to Lua without it, which keeps the
-- load generator's own CPU use (on the server's cores) down.
if max_per_thread > 0 then
  local seen = 0
  function response(status, headers, body)
    seen = seen + 1
    if seen >= max_per_thread then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  -- The slowest tenth, percentile by percentile in steps of 0.05 (90, 90.05, ..., 100): what
  -- the bench needs to find the p99 of several rounds' requests taken together.
  local tail = {}
  for step = 0, 200 do
    tail[#tail + 1] = string.format("%d", latency:percentile(90 + step * 0.05))
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"errors_connect": %d, "errors_read": %d, "errors_write": %d, "errors_status": %d, ' ..
    '"errors_timeout": %d, "tail_us": [%s]}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout, table.concat(tail, ", ")))
end
