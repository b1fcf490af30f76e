-- query_performance_daily: query volume, speed and errors per instance and day (UTC). How many queries
-- ran, their median and 95th percentile runtime in seconds, and how many failed. The pipeline's own extract
-- queries are left out.
-- @order looker_instance, day DESC
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.query_performance_daily`
OPTIONS (description = "queries, p50/p95 runtime and error rate per instance and day (pipeline queries excluded)")
AS
SELECT
  looker_instance,
  DATE(created_time) AS day,
  COUNT(*) AS queries,
  COUNT(DISTINCT user_id) AS users,
  APPROX_QUANTILES(runtime, 100)[OFFSET(50)] AS p50_runtime_s,
  APPROX_QUANTILES(runtime, 100)[OFFSET(95)] AS p95_runtime_s,
  MAX(runtime) AS max_runtime_s,
  COUNTIF(status = 'error') AS errors,
  SAFE_DIVIDE(COUNTIF(status = 'error'), COUNT(*)) AS error_rate
FROM `{{project}}.{{dataset}}.history`
WHERE NOT IFNULL(_lsa_own_query, FALSE)
GROUP BY looker_instance, day
