-- users_current: the users that exist in Looker now. The latest snapshot row of each, without those that
-- disappeared from Looker (_deleted_at, set by the pipeline). Disabled users are kept (is_disabled).
-- @order looker_instance, id
CREATE OR REPLACE VIEW `{{project}}.{{dataset}}.users_current`
OPTIONS (description = "users that exist in Looker now (latest snapshot row, deleted excluded)")
AS
SELECT * EXCEPT (_deleted_at)
FROM (
  SELECT *
  FROM `{{project}}.{{dataset}}.user`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY looker_instance, id ORDER BY _extracted_at DESC) = 1
)
WHERE _deleted_at IS NULL
