-- wrk script for `make soak` (tests/soak.rs): a mixed load against Envoy +
-- edge-cors, every response checked. Run with as many connections as
-- threads (-t N -c N): each thread then has one connection, so its
-- responses arrive in the order of its requests.

local APP = "https://app.example.com"
local SUB = "https://shop.example.com"
local EVIL = "https://evil.test"
local PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

local kinds = {
  { name = "allowed GET", method = "GET", path = "/api/ok", headers = { Origin = APP },
    status = 200, want = { ["access-control-allow-origin"] = APP, ["access-control-expose-headers"] = "etag", vary = "Origin" } },
  { name = "disallowed GET", method = "GET", path = "/api/ok", headers = { Origin = EVIL },
    status = 200, bare = true, want = { vary = "Origin" } },
  { name = "allowed preflight", method = "OPTIONS", path = "/api/ok",
    headers = { Origin = SUB, ["Access-Control-Request-Method"] = "POST", ["Access-Control-Request-Headers"] = "content-type,authorization" },
    status = 204, want = { ["access-control-allow-origin"] = SUB, ["access-control-allow-methods"] = "GET, POST",
      ["access-control-allow-headers"] = "content-type, authorization", ["access-control-max-age"] = "600", vary = PREFLIGHT_VARY } },
  { name = "rejected preflight", method = "OPTIONS", path = "/api/ok",
    headers = { Origin = EVIL, ["Access-Control-Request-Method"] = "GET" },
    status = 403, bare = true, body = "CORS preflight rejected: origin not allowed\n", want = { vary = PREFLIGHT_VARY } },
  { name = "no origin", method = "GET", path = "/api/ok", headers = {},
    status = 200, bare = true, want = { vary = "Origin" } },
  { name = "upstream 500", method = "POST", path = "/api/status/500", headers = { Origin = APP },
    status = 500, want = { ["access-control-allow-origin"] = APP, vary = "Origin" } },
  { name = "upstream 401", method = "GET", path = "/api/status/401", headers = { Origin = SUB },
    status = 401, want = { ["access-control-allow-origin"] = SUB, vary = "Origin" } },
  { name = "upstream's own CORS headers", method = "GET", path = "/api/upstream-cors", headers = { Origin = EVIL },
    status = 200, bare = true, want = { vary = "Accept-Encoding, Origin" } },
  { name = "Envoy's 503", method = "GET", path = "/dead/x", headers = { Origin = APP },
    status = 503, want = { ["access-control-allow-origin"] = APP, vary = "Origin" } },
  { name = "Envoy's 404", method = "GET", path = "/nowhere", headers = { Origin = APP },
    status = 404, want = { ["access-control-allow-origin"] = APP, vary = "Origin" } },
}

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("first", counter)
  table.insert(threads, thread)
end

-- Per thread (globals, read by done() through thread:get).
checked = 0
mismatches = 0
first_error = ""
local i = 0
local current = nil

function init(args)
  for _, k in ipairs(kinds) do
    k.request = wrk.format(k.method, k.path, k.headers)
  end
  i = first or 0
end

function request()
  i = i % #kinds + 1
  current = kinds[i]
  return current.request
end

local function check(k, status, headers, body)
  if status ~= k.status then
    return "status " .. status .. ", want " .. k.status
  end
  for name, value in pairs(k.want) do
    if headers[name] ~= value then
      return name .. ": " .. tostring(headers[name]) .. ", want " .. value
    end
  end
  if k.bare then
    for name, _ in pairs(headers) do
      if string.sub(string.lower(name), 1, 15) == "access-control-" then
        return "unexpected " .. name
      end
    end
  end
  if k.body and body ~= k.body then
    return "body " .. body
  end
  return nil
end

function response(status, headers, body)
  checked = checked + 1
  local err = check(current, status, headers, body)
  if err then
    mismatches = mismatches + 1
    if first_error == "" then
      first_error = current.name .. ": " .. err
    end
  end
end

function done(summary, latency, requests)
  local c, m, first = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("checked")
    m = m + t:get("mismatches")
    local e = t:get("first_error")
    if first == "" and e ~= "" then first = e end
  end
  local e = summary.errors
  io.write(string.format(
    "SOAK_RESULT requests=%d checked=%d mismatches=%d connect=%d read=%d write=%d timeout=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d first_error=%s\n",
    summary.requests, c, m, e.connect, e.read, e.write, e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, first))
end
