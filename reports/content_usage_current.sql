-- content_usage_current: the content_usage table as of today. `days_since_last_accessed` and
-- `days_since_last_access_tiers` are what Looker computed at extraction time and go stale; here both are
-- recomputed from last_accessed_time when the view is queried, with Looker's tiers. With the `append` load
-- strategy a content item has one row per extraction: only the latest is kept.
-- @order looker_instance, days_since_last_accessed DESC, content_type, content_id
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.content_usage_current`
OPTIONS (description = "content_usage with day counts and tiers recomputed at query time (latest row per item)")
AS
WITH latest AS (
  SELECT *
  FROM `{{project}}.{{dataset}}.content_usage`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY looker_instance, id ORDER BY _extracted_at DESC) = 1
),
aged AS (
  SELECT *, DATE_DIFF(CURRENT_DATE(), DATE(last_accessed_time), DAY) AS age_days
  FROM latest
)
SELECT
  looker_instance,
  content_id,
  content_title,
  content_type,
  CASE
    WHEN age_days IS NULL THEN NULL
    WHEN age_days < 7 THEN '0 to 6'
    WHEN age_days < 14 THEN '7 to 13'
    WHEN age_days < 30 THEN '14 to 29'
    WHEN age_days < 60 THEN '30 to 59'
    WHEN age_days < 90 THEN '60 to 89'
    ELSE '90 or Above'
  END AS days_since_last_access_tiers,
  age_days AS days_since_last_accessed,
  id,
  api_count,
  embed_count,
  favorite_count,
  public_count,
  schedule_count,
  other_count,
  last_accessed_time,
  _extracted_at
FROM aged
