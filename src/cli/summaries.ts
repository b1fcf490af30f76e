// What each `lsa` command does, in one line: shown by `lsa --help` without loading any command's code.

export const COMMAND_SUMMARIES = {
  demo: 'Run the whole pipeline locally against the emulators (Redis from REDIS_URL or a private redis-server).',
  start: 'Run the pipeline: scheduler, workers and dashboard (all in one process by default).',
  run: 'Enqueue a run now for one instance (all its exports, or one): running workers pick it up.',
  status:
    'Show, per instance and export: initial load done, watermark, last run, rows, last error, queue counts.',
  plan: 'Dry run: the windows, Looker queries and (with --count) rows the next run would make, per instance × export.',
  reset: 'Put an instance (or one of its exports) back to initial load: flag on, watermark cleared.',
  backfill:
    'Load a past range of one incremental export again (MERGE), beside the schedule; the watermark stays.',
  config: 'Check a pipeline config, or print the JSON Schema editors use to complete it.',
  emulators:
    'Start the Looker, GCS and BigQuery emulators with three seeded instances and write a pipeline config for them.',
  doctor: 'Check every Looker instance, Cloud Storage and BigQuery, and print the fix for each failure.',
  report:
    'Print one report view (instance overview, query performance, unused content, …) as a table, CSV or JSON.',
  reports: 'Install (create or replace) the report views in the BigQuery dataset, or list them.',
} as const;

export type CommandName = keyof typeof COMMAND_SUMMARIES;
