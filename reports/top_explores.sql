-- top_explores: the 20 most queried explores of each instance, last 30 days. With their users, p95
-- runtime and errors. The pipeline's own extract queries are left out.
-- @order looker_instance, rank_in_instance, model, explore
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.top_explores`
OPTIONS (description = "the 20 most queried explores per instance, last 30 days (pipeline queries excluded)")
AS
SELECT
  looker_instance,
  query_model AS model,
  query_explore AS explore,
  COUNT(*) AS queries,
  COUNT(DISTINCT user_id) AS users,
  APPROX_QUANTILES(runtime, 100)[OFFSET(95)] AS p95_runtime_s,
  COUNTIF(status = 'error') AS errors,
  RANK() OVER (PARTITION BY looker_instance ORDER BY COUNT(*) DESC) AS rank_in_instance
FROM `{{project}}.{{dataset}}.history`
WHERE NOT IFNULL(_lsa_own_query, FALSE)
  AND query_explore IS NOT NULL
  AND created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY looker_instance, model, explore
QUALIFY rank_in_instance <= 20
