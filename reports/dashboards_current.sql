-- dashboards_current: the dashboards that exist in Looker now. The latest snapshot row of each, without
-- those that disappeared from Looker (_deleted_at, set by the pipeline) and those in Looker's trash
-- (deleted_time set).
-- @order looker_instance, id
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.dashboards_current`
OPTIONS (description = "dashboards that exist in Looker now (latest snapshot row, deleted excluded)")
AS
SELECT * EXCEPT (_deleted_at)
FROM (
  SELECT *
  FROM `{{project}}.{{dataset}}.dashboard`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY looker_instance, id ORDER BY _extracted_at DESC) = 1
)
WHERE _deleted_at IS NULL
  AND deleted_time IS NULL
