-- unused_content: content nobody opens, per instance and content type. An item counts as unused for 30
-- (90) days when it was never accessed or last accessed 30 (90) or more days ago (ages from
-- content_usage_current, so they are current).
-- @order looker_instance, content_type
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.unused_content`
OPTIONS (description = "content never accessed, or not in 30 / 90 days, per instance and content type")
AS
SELECT
  looker_instance,
  content_type,
  COUNT(*) AS content_items,
  COUNTIF(last_accessed_time IS NULL) AS never_accessed,
  COUNTIF(last_accessed_time IS NULL OR days_since_last_accessed >= 30) AS unused_30d,
  COUNTIF(last_accessed_time IS NULL OR days_since_last_accessed >= 90) AS unused_90d,
  SAFE_DIVIDE(COUNTIF(last_accessed_time IS NULL OR days_since_last_accessed >= 90), COUNT(*)) AS unused_90d_share
FROM `{{project}}.{{dataset}}.content_usage_current`
GROUP BY looker_instance, content_type
