-- instance_overview: the Looker instances side by side. Per instance: queries, active users and query
-- errors in the last 7 and 30 days (the pipeline's own queries left out), the users, dashboards and Looks that
-- exist now, content unused for 90 days, and when data of the instance was last extracted.
-- @order looker_instance
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.instance_overview`
OPTIONS (description = "per instance: queries, users, errors last 7/30 days; content counts; last extraction")
AS
WITH activity AS (
  SELECT
    looker_instance,
    COUNTIF(created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)) AS queries_7d,
    COUNT(*) AS queries_30d,
    COUNT(DISTINCT IF(created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY), user_id, NULL)) AS active_users_7d,
    COUNT(DISTINCT user_id) AS active_users_30d,
    COUNTIF(status = 'error' AND created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 7 DAY)) AS errors_7d,
    COUNTIF(status = 'error') AS errors_30d
  FROM `{{project}}.{{dataset}}.history`
  WHERE NOT IFNULL(_lsa_own_query, FALSE)
    AND created_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 30 DAY)
  GROUP BY looker_instance
),
users AS (
  SELECT looker_instance, COUNT(*) AS users, COUNTIF(NOT IFNULL(is_disabled, FALSE)) AS enabled_users
  FROM `{{project}}.{{dataset}}.users_current`
  GROUP BY looker_instance
),
dashboards AS (
  SELECT looker_instance, COUNT(*) AS dashboards FROM `{{project}}.{{dataset}}.dashboards_current` GROUP BY looker_instance
),
looks AS (
  SELECT looker_instance, COUNT(*) AS looks FROM `{{project}}.{{dataset}}.looks_current` GROUP BY looker_instance
),
unused AS (
  SELECT looker_instance, SUM(unused_90d) AS content_unused_90d
  FROM `{{project}}.{{dataset}}.unused_content`
  GROUP BY looker_instance
),
extracted AS (
  SELECT looker_instance, MAX(_extracted_at) AS last_extracted_at
  FROM (
    SELECT looker_instance, _extracted_at FROM `{{project}}.{{dataset}}.history`
    UNION ALL SELECT looker_instance, _extracted_at FROM `{{project}}.{{dataset}}.user`
    UNION ALL SELECT looker_instance, _extracted_at FROM `{{project}}.{{dataset}}.content_usage`
  )
  GROUP BY looker_instance
),
instances AS (
  SELECT looker_instance FROM extracted
  UNION DISTINCT SELECT looker_instance FROM dashboards
  UNION DISTINCT SELECT looker_instance FROM looks
)
SELECT
  i.looker_instance,
  IFNULL(a.queries_7d, 0) AS queries_7d,
  IFNULL(a.queries_30d, 0) AS queries_30d,
  IFNULL(a.active_users_7d, 0) AS active_users_7d,
  IFNULL(a.active_users_30d, 0) AS active_users_30d,
  IFNULL(a.errors_7d, 0) AS errors_7d,
  IFNULL(a.errors_30d, 0) AS errors_30d,
  IFNULL(u.users, 0) AS users,
  IFNULL(u.enabled_users, 0) AS enabled_users,
  IFNULL(d.dashboards, 0) AS dashboards,
  IFNULL(l.looks, 0) AS looks,
  IFNULL(c.content_unused_90d, 0) AS content_unused_90d,
  e.last_extracted_at
FROM instances AS i
LEFT JOIN activity AS a USING (looker_instance)
LEFT JOIN users AS u USING (looker_instance)
LEFT JOIN dashboards AS d USING (looker_instance)
LEFT JOIN looks AS l USING (looker_instance)
LEFT JOIN unused AS c USING (looker_instance)
LEFT JOIN extracted AS e USING (looker_instance)
