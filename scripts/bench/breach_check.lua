-- wrk script: POST /api/v1/breach/check with the operator key in BENCH_KEY and
-- the SHA-1 in BENCH_SHA1 (one fixed body, so wrk runs no Lua per request).
-- Prints one JSON line; "ok" excludes statuses >= 400, so a refused or failed
-- check cannot inflate the rate.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
wrk.body = string.format('{"sha1":"%s"}', os.getenv("BENCH_SHA1"))

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format(
    '{"bench":"wrk-breach-check","requests":%d,"ok":%d,"not_ok":%d,"socket_errors":%d,"seconds":%.3f,"ok_per_second":%.1f,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, ok, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    secs, ok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
