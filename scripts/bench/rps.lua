-- wrk script: prints one JSON line. "ok" excludes responses with a status of
-- 400 or more (wrk's errors.status), so refusals do not inflate the figure.
-- No response() callback, so wrk does not run Lua per response.
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format(
    '{"bench":"wrk","requests":%d,"ok":%d,"not_ok":%d,"socket_errors":%d,"seconds":%.3f,"ok_per_second":%.1f,"p50_ms":%.3f,"p99_ms":%.3f}\n',
    summary.requests, ok, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    secs, ok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
