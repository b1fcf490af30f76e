// Every Redis key the pipeline owns, under one hash-tag prefix (default `{lsa}`), so BullMQ's keys and ours live
// in the same Redis Cluster slot and Lua scripts may touch several of them at once.

export class StateKeys {
  constructor(readonly prefix: string) {}

  /** Hash: per export `<export>.initialLoad`, `<export>.watermark`, `<export>.planEnd`. */
  instance(instanceId: string): string {
    return `${this.prefix}:instance:${instanceId}`;
  }

  /** Sorted set of the windows of the current plan not yet committed (member window id, score start ms). */
  pending(instanceId: string, exportName: string): string {
    return `${this.prefix}:pending:${instanceId}:${exportName}`;
  }

  /** Sorted set of rows still open (member key, score cursor ms): read again until they are final. */
  openRows(instanceId: string, exportName: string): string {
    return `${this.prefix}:open:${instanceId}:${exportName}`;
  }

  /** What one extracted window found open, applied to `openRows` when the window commits. */
  openRowsStaged(instanceId: string, exportName: string, windowId: string): string {
    return `${this.prefix}:open-staged:${instanceId}:${exportName}:${windowId}`;
  }

  /** Short-lived lock held while one fan-out plans the exports of one instance. */
  planLock(instanceId: string): string {
    return `${this.prefix}:plan-lock:${instanceId}`;
  }

  /** Hash: per export the outcome of the last window (for the status page and metrics). */
  runs(instanceId: string): string {
    return `${this.prefix}:runs:${instanceId}`;
  }

  /** Sorted set of query leases on one Looker instance (member token, score expiry ms), and its 429 cool-down. */
  lease(instanceId: string): string {
    return `${this.prefix}:lease:${instanceId}`;
  }

  /** Sorted set of live nodes (member node id, score last heartbeat ms). */
  nodes(): string {
    return `${this.prefix}:nodes`;
  }

  node(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}`;
  }

  /** Counters for metrics: rows extracted/loaded per instance and export. */
  counters(): string {
    return `${this.prefix}:counters`;
  }

  /** Hash: pipeline-wide metrics (stage duration histograms, failures by kind, Looker queries). */
  metrics(): string {
    return `${this.prefix}:metrics`;
  }

  /** Hash: notifications already sent for a condition that still holds (so a periodic check does not repeat them). */
  notified(): string {
    return `${this.prefix}:notified`;
  }
}
