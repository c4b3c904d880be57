-- Requests with the client's country (geoip) and device (user agent), one partition per month.
-- materialization: replace partition
-- partition_by: month
-- grain: month
SELECT month, host AS ip, "user" AS customer_id, time, method, path, status, user_agent,
       ip_country(host) AS country, ua_device(user_agent) AS device, ua_browser(user_agent) AS browser, ua_os(user_agent) AS os
FROM bronze.weblogs
WHERE month >= {{start}} AND month < {{end}}
