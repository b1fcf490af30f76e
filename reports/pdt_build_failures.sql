-- pdt_build_failures: PDTs whose builds failed in the last 30 days. Failures, the last failure and its
-- detail, and the last successful build (NULL: none in the period).
-- @order looker_instance, failures DESC, model_name, view_name
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.pdt_build_failures`
OPTIONS (description = "PDTs with failed builds in the last 30 days")
AS
WITH events AS (
  SELECT *, REGEXP_CONTAINS(LOWER(action), r'error|fail') AS failed
  FROM `{{project}}.{{dataset}}.pdt_event_log`
  WHERE created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
)
SELECT
  looker_instance,
  connection,
  model_name,
  view_name,
  COUNTIF(failed) AS failures,
  COUNTIF(action = 'create complete') AS builds,
  MAX(IF(failed, created_time, NULL)) AS last_failure_time,
  ARRAY_AGG(IF(failed, action_data, NULL) IGNORE NULLS ORDER BY created_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS last_failure_detail,
  MAX(IF(action = 'create complete', created_time, NULL)) AS last_build_time
FROM events
GROUP BY looker_instance, connection, model_name, view_name
HAVING failures > 0
