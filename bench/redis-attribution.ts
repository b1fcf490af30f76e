import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';

// Who sends which Redis command, from MONITOR: every command a client sends is labelled with the command and
// the kind of key it touches (`hget job`, `script moveToFinished`), the commands a Lua script runs are counted
// under that script, and each client connection is mapped to a role (trigger, worker). MONITOR slows Redis, so
// timings of a monitored run are not reported; its counts are exact.

interface ScriptModule {
  name: string;
  content: string;
}

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

/** sha1 of each BullMQ Lua script → its name (ioredis sends EVALSHA with that sha). */
function bullmqScripts(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const modules = require('bullmq/dist/cjs/scripts/index.js') as Record<string, ScriptModule>;
  const byHash = new Map<string, string>();
  for (const script of Object.values(modules)) {
    if (script && typeof script.content === 'string') byHash.set(sha1(script.content), script.name);
  }
  return byHash;
}

/** A key under `prefix`, with ids replaced by their kind: `extract:<job>:logs`, `upload-*:wait`, `lease`. */
export function keyKind(key: string | undefined, prefix: string): string {
  if (key === undefined) return '';
  if (!key.startsWith(`${prefix}:`)) return key.startsWith('{') ? '(other prefix)' : '';
  const parts = key.slice(prefix.length + 1).split(':');
  const head = parts[0]!;
  const STATE = ['instance', 'pending', 'plan-lock', 'runs', 'lease', 'nodes', 'node', 'counters'];
  if (STATE.includes(head)) return `state ${head}`;
  const queue = head.startsWith('upload-') ? 'upload' : head;
  if (parts.length === 1) return queue;
  const QUEUE_KEYS = [
    'wait',
    'active',
    'events',
    'meta',
    'id',
    'completed',
    'failed',
    'delayed',
    'prioritized',
    'marker',
    'stalled',
    'stalled-check',
    'waiting-children',
    'pc',
    'paused',
    'limiter',
    'de',
    'repeat',
  ];
  if (parts.length === 2 && QUEUE_KEYS.includes(parts[1]!)) return `${queue}:${parts[1]}`;
  const suffix = parts.length > 2 ? `:${parts.slice(2).join(':')}` : '';
  return `${queue} job${suffix}`;
}

/** The queue a BullMQ key belongs to (`load`, `upload`), or '' for a key of our own state. */
function queueOf(key: string | undefined, prefix: string): string {
  const kind = keyKind(key, prefix);
  return kind.startsWith('state ') ? '' : (kind.split(/[ :]/)[0] ?? '');
}

interface Line {
  source: string;
  label: string;
  inner: number;
}

export interface Attribution {
  /** label → commands sent by clients */
  sent: Map<string, number>;
  /** label → commands run inside scripts (under the script's label) */
  inner: Map<string, number>;
  /** role → commands sent */
  byRole: Map<string, number>;
  totalSent: number;
  totalInner: number;
}

export class RedisMonitor {
  private readonly lines: Line[] = [];
  private current: Line | undefined;
  private readonly scripts = bullmqScripts();
  /** BullMQ's own script names: their label says which queue they ran on (`moveToActive load`). */
  private readonly bullmq = new Set(this.scripts.values());

  private constructor(
    private readonly monitor: Redis,
    private readonly prefix: string,
  ) {
    monitor.on('monitor', (_time: string, args: string[], source: string) => this.onCommand(args, source));
  }

  static async start(admin: Redis, prefix: string): Promise<RedisMonitor> {
    return new RedisMonitor(await admin.monitor(), prefix);
  }

  private scriptName(sha: string, text: string | undefined, firstKey: string | undefined): string {
    const known = this.scripts.get(sha);
    if (known) return this.bullmq.has(known) ? `${known} ${queueOf(firstKey, this.prefix)}`.trim() : known;
    if (text) {
      // Our own scripts (src/state/*.ts), named by what they do.
      const name = text.includes("'.watermark'")
        ? 'lsa commitWindow'
        : text.includes('unreachableSince')
          ? 'lsa recordUnreachable'
          : text.includes('ZCOUNT')
            ? 'lsa batchJoin'
            : text.includes("'closed'")
              ? 'lsa batchClose'
              : text.includes('ZREMRANGEBYSCORE')
                ? 'lsa acquireLease'
                : `lua ${sha.slice(0, 8)}`;
      this.scripts.set(sha, name);
      return name;
    }
    // Loaded by an earlier run, so only EVALSHA is seen: name ours by the key they start with.
    const kind = keyKind(firstKey, this.prefix);
    if (kind === 'state lease') return 'lsa acquireLease';
    if (kind === 'state instance') return 'lsa commitWindow';
    if (kind === 'state runs') return 'lsa recordUnreachable';
    if (kind === 'batch job') return 'lsa batchJoin/batchClose';
    if (kind === 'state plan-lock') return 'lsa releasePlanLock';
    return `lua ${sha.slice(0, 8)} (${kind})`;
  }

  private onCommand(args: string[], source: string): void {
    const command = (args[0] ?? '').toLowerCase();
    if (source === 'lua') {
      if (this.current) this.current.inner++;
      return;
    }
    if (command === 'info' || command === 'client' || command === 'monitor') return;
    let label: string;
    if (command === 'evalsha' || command === 'eval') {
      const sha = command === 'eval' ? sha1(args[1] ?? '') : (args[1] ?? '');
      const keys = Number(args[2] ?? 0);
      label = `script ${this.scriptName(sha, command === 'eval' ? args[1] : undefined, keys > 0 ? args[3] : undefined)}`;
    } else {
      label = `${command} ${keyKind(args[1], this.prefix)}`.trim();
    }
    this.current = { source, label, inner: 0 };
    this.lines.push(this.current);
  }

  /** Stops monitoring; `roles` maps a client address (`127.0.0.1:port`) to a role name. */
  async stop(roles: Map<string, string>): Promise<Attribution> {
    this.monitor.disconnect();
    const sent = new Map<string, number>();
    const inner = new Map<string, number>();
    const byRole = new Map<string, number>();
    let totalInner = 0;
    for (const line of this.lines) {
      sent.set(line.label, (sent.get(line.label) ?? 0) + 1);
      if (line.inner > 0) inner.set(line.label, (inner.get(line.label) ?? 0) + line.inner);
      totalInner += line.inner;
      const role = roles.get(line.source) ?? 'other';
      byRole.set(role, (byRole.get(role) ?? 0) + 1);
    }
    return { sent, inner, byRole, totalSent: this.lines.length, totalInner };
  }
}

/** What in our code sends a command with this label (for the report). */
export function purpose(label: string): string {
  const rules: [RegExp, string][] = [
    [/^script addLog/, 'job.log()'],
    [/^script updateProgress/, 'job.updateProgress()'],
    [/^script lsa acquireLease|^zrem state lease|^zadd state lease/, 'query lease (and 429 cool-down)'],
    [/state runs|state counters|^script lsa record/, 'run status + counters of the extract'],
    [/^script lsa commitWindow/, 'commit window (watermark, pending set, run status of the load)'],
    [/^script lsa batchJoin|^zadd batch-expected/, 'batch: join (upload), expected windows (fan-out)'],
    [/^get batch-window|^hmget batch /, "batch: a window's outcome, read by its load"],
    [/^script lsa batchClose|^script lsa batchJoin\/batchClose/, 'batch: close'],
    [/^incrby api-calls|^expire api-calls/, 'Looker API budget (calls this month)'],
    [/^hgetall load job:processed/, 'getChildrenValues()'],
    [/state instance|state pending|state plan-lock/, 'fan-out planning'],
    [/^zadd state nodes|state node$/, 'node heartbeat'],
    [/^script addParentJob|^script addStandardJob|^script addDelayedJob/, 'add jobs / flows'],
    [/^multi$|^exec$/, 'MULTI/EXEC wrappers'],
    [/^script moveToActive|^bzpopmin|^script moveToFinished|^script extendLock/, 'BullMQ job lifecycle'],
    [/^script moveToDelayed extract/, 'extract delayed (query slot busy, cool-down)'],
    [/^script moveToDelayed load$/, 'load waits for its batch (delayed)'],
    [/^script moveToDelayed load-batch/, 'batch waits until due (delayed)'],
    [/^script promote load$/, 'batch wakes its windows (promote)'],
    [/^script moveStalledJobsToWait/, 'BullMQ stalled-job check'],
    [/^zcard|^llen/, 'bench polling'],
  ];
  return rules.find(([pattern]) => pattern.test(label))?.[1] ?? '';
}
