-- rest_flood.lua: wrk's script of rest_bad_input's flood: requests that must all be refused,
-- in turn: a list with a wrong token (401), a fetch of an unknown SID (404), creates whose To
-- asks for a Via header or whose Twiml does not parse (400). Each thread stops after LIMIT
-- responses and each connection waits PAUSE ms between its requests (wrk ... -- LIMIT PAUSE),
-- so that the flood lasts long enough for a real call to happen inside it; done() prints
--   flood: responses=N 400=N 401=N 404=N other=N errors=N p99_ms=X max_ms=X
-- Environment: SID, GOOD and WRONG (Authorization header values: the right token, a wrong
-- one), UAS (the To's port), WH (the Url's port).
local sid, good, wrong = os.getenv("SID"), os.getenv("GOOD"), os.getenv("WRONG")
local uas, wh = os.getenv("UAS"), os.getenv("WH")
local reqs, threads = {}, {}
local limit, pause = 1000, 0
function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	limit = tonumber(args[1]) or limit
	pause = tonumber(args[2]) or pause
	n, s400, s401, s404, other = 0, 0, 0, 0, 0
	local calls = "/2010-04-01/Accounts/" .. sid .. "/Calls"
	local form = { ["Content-Type"] = "application/x-www-form-urlencoded", Authorization = good }
	reqs = {
		wrk.format("GET", calls .. ".json", { Authorization = wrong }),
		wrk.format("GET", calls .. "/CA" .. string.rep("0", 32) .. ".json", { Authorization = good }),
		wrk.format("POST", calls .. ".json", form, "To=sip%3Abob%40127.0.0.1%3A" .. uas ..
			"%3FVia%3Devil&From=%2B15550100&Url=http%3A%2F%2F127.0.0.1%3A" .. wh .. "%2Fanswer"),
		wrk.format("POST", calls .. ".json", form, "To=sip%3Abob%40127.0.0.1%3A" .. uas ..
			"&From=%2B15550100&Twiml=%3CResponse%3E%3CDial%3E"),
	}
end

local i = 0
function request()
	i = i + 1
	return reqs[i % #reqs + 1]
end

function delay()
	return pause
end

function response(status, headers, body)
	n = n + 1
	if status == 400 then s400 = s400 + 1
	elseif status == 401 then s401 = s401 + 1
	elseif status == 404 then s404 = s404 + 1
	else other = other + 1 end
	if n >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
	local t = { n = 0, s400 = 0, s401 = 0, s404 = 0, other = 0 }
	for _, th in ipairs(threads) do
		for k in pairs(t) do t[k] = t[k] + (th:get(k) or 0) end
	end
	io.write(string.format("flood: responses=%d 400=%d 401=%d 404=%d other=%d errors=%d " ..
		"p99_ms=%.1f max_ms=%.1f\n", t.n, t.s400, t.s401, t.s404, t.other,
		summary.errors.connect + summary.errors.read + summary.errors.write +
		summary.errors.timeout, latency:percentile(99) / 1000, latency.max / 1000))
end
