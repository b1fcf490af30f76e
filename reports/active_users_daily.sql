-- active_users_daily: distinct users running queries, per instance and day (UTC). Also how many queries
-- they ran. The pipeline's own extract queries (its API user) are left out.
-- @order looker_instance, day DESC
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.active_users_daily`
OPTIONS (description = "distinct users running queries per instance and day (pipeline queries excluded)")
AS
SELECT
  looker_instance,
  DATE(created_time) AS day,
  COUNT(DISTINCT user_id) AS active_users,
  COUNT(*) AS queries
FROM `{{project}}.{{dataset}}.history`
WHERE NOT IFNULL(_lsa_own_query, FALSE)
  AND user_id IS NOT NULL
GROUP BY looker_instance, day
