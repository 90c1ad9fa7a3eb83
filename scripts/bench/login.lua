-- wrk script: closed-loop logins (POST /api/v1/sessions with a correct
-- password) for the account in BENCH_EMAIL / BENCH_PASSWORD. Prints one JSON
-- line; "ok" excludes statuses >= 400 (503, 429, ...).
local email = os.getenv("BENCH_EMAIL")
local password = os.getenv("BENCH_PASSWORD")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"email":"%s","password":"%s"}', email, password)

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format(
    '{"bench":"wrk-login","requests":%d,"ok":%d,"not_ok":%d,"socket_errors":%d,"seconds":%.3f,"ok_per_second":%.1f,"p50_ms":%.2f,"p99_ms":%.2f}\n',
    summary.requests, ok, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    secs, ok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
