-- schedule_failures: scheduled plans that failed in the last 30 days. Their runs, failure rate, last
-- failure and its message, and last success (NULL: none in the period).
-- @order looker_instance, failures DESC, scheduled_plan_id
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.schedule_failures`
OPTIONS (description = "scheduled plans with failed runs in the last 30 days")
AS
SELECT
  looker_instance,
  scheduled_plan_id,
  ARRAY_AGG(scheduled_plan_name IGNORE NULLS ORDER BY created_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS scheduled_plan_name,
  COUNT(*) AS runs,
  COUNTIF(status = 'failure') AS failures,
  SAFE_DIVIDE(COUNTIF(status = 'failure'), COUNT(*)) AS failure_rate,
  MAX(IF(status = 'failure', created_time, NULL)) AS last_failure_time,
  ARRAY_AGG(IF(status = 'failure', status_detail, NULL) IGNORE NULLS ORDER BY created_time DESC LIMIT 1)[SAFE_OFFSET(0)] AS last_failure_detail,
  MAX(IF(status = 'success', created_time, NULL)) AS last_success_time
FROM `{{project}}.{{dataset}}.scheduled_job`
WHERE created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
GROUP BY looker_instance, scheduled_plan_id
HAVING failures > 0
