import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

// Looker query calls per instance per calendar month (UTC), and what the budget planner remembers between ticks.
// Keys, all under the state prefix:
//   <prefix>:api-calls:<instance>:<yyyy-mm>          query calls Looker took that month (a counter)
//   <prefix>:api-budget:<instance>:<yyyy-mm>         hash: `estimated` (calls the month's plans were estimated
//                                                    at), `forecast` (the last fan-out's forecast)
//   <prefix>:api-budget:<instance>                   hash: `lastPlan.<export>` (epoch ms of its last plan)
//   <prefix>:api-budget-warned:<instance>:<yyyy-mm-dd>  set once: the day's budget warning was given
// Monthly keys expire after 40 days: a month is over by then, and nothing reads an older one.

const MONTH_KEY_TTL_SECONDS = 40 * 24 * 3600;
const WARNED_TTL_SECONDS = 2 * 24 * 3600;

export interface MonthUsage {
  used: number;
  estimated: number;
  /** The last fan-out's forecast for the month; null before the month's first budgeted fan-out. */
  forecast: number | null;
}

export class ApiCallStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: StateKeys,
  ) {}

  private calls(instanceId: string, month: string): string {
    return `${this.keys.prefix}:api-calls:${instanceId}:${month}`;
  }

  private ledger(instanceId: string, month: string): string {
    return `${this.keys.prefix}:api-budget:${instanceId}:${month}`;
  }

  private plans(instanceId: string): string {
    return `${this.keys.prefix}:api-budget:${instanceId}`;
  }

  /** Query calls Looker took that are not in Redis yet: instance → month → calls. */
  private readonly unrecorded = new Map<string, Map<string, number>>();

  /**
   * One query call Looker took for the instance in `month`, counted in this process until `flush` adds it to
   * Redis: the extract flushes its instance's calls when its attempt ends (an extract makes two calls or more, and
   * a command per call was one more per window at scale), so they are in Redis before its job completes. A
   * process killed mid-extract loses that extract's calls from the month's count, a few calls in a budget of
   * thousands.
   */
  tally(instanceId: string, month: string): void {
    this.countHere(instanceId, month, 1);
  }

  private countHere(instanceId: string, month: string, calls: number): void {
    const months = this.unrecorded.get(instanceId) ?? new Map<string, number>();
    months.set(month, (months.get(month) ?? 0) + calls);
    this.unrecorded.set(instanceId, months);
  }

  /**
   * Adds the calls counted here to their months in Redis: one instance's, or every instance's. The month's
   * first calls (the counter reads what was just added) also set its expiry; a process killed between the two
   * leaves that month's counter without one: a single key per instance and month, which nothing reads once the
   * month is over. Calls whose command failed are counted here again, for the next flush.
   */
  async flush(instanceId?: string): Promise<void> {
    const instances = instanceId === undefined ? [...this.unrecorded.keys()] : [instanceId];
    for (const id of instances) {
      const months = [...(this.unrecorded.get(id) ?? [])];
      this.unrecorded.delete(id);
      for (const [i, [month, calls]] of months.entries()) {
        const key = this.calls(id, month);
        let total: number;
        try {
          total = await this.redis.incrby(key, calls);
        } catch (error) {
          // Not added: this month's calls and those of the months after it are counted here again.
          for (const [left, n] of months.slice(i)) this.countHere(id, left, n);
          throw error;
        }
        if (total === calls) await this.redis.expire(key, MONTH_KEY_TTL_SECONDS);
      }
    }
  }

  async usage(instanceId: string, month: string): Promise<MonthUsage> {
    const [used, [estimated, forecast]] = await Promise.all([
      this.redis.get(this.calls(instanceId, month)),
      this.redis.hmget(this.ledger(instanceId, month), 'estimated', 'forecast'),
    ]);
    return {
      used: Number(used ?? 0),
      estimated: Number(estimated ?? 0),
      forecast: forecast === null || forecast === undefined ? null : Number(forecast),
    };
  }

  async recordForecast(instanceId: string, month: string, forecast: number): Promise<void> {
    const key = this.ledger(instanceId, month);
    await this.redis.multi().hset(key, 'forecast', forecast).expire(key, MONTH_KEY_TTL_SECONDS).exec();
  }

  /** An export was planned at `atMs`, its plan estimated at `estimate` calls. */
  async recordPlan(
    instanceId: string,
    exportName: string,
    month: string,
    atMs: number,
    estimate: number,
  ): Promise<void> {
    const key = this.ledger(instanceId, month);
    await this.redis
      .multi()
      .hincrby(key, 'estimated', estimate)
      .expire(key, MONTH_KEY_TTL_SECONDS)
      .hset(this.plans(instanceId), `lastPlan.${exportName}`, atMs)
      .exec();
  }

  /** When each export was last planned (epoch ms), for the exports that ever were. */
  async lastPlans(instanceId: string, exportNames: string[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    if (exportNames.length === 0) return result;
    const values = await this.redis.hmget(
      this.plans(instanceId),
      ...exportNames.map((name) => `lastPlan.${name}`),
    );
    exportNames.forEach((name, i) => {
      const value = values[i];
      if (value !== null && value !== undefined) result.set(name, Number(value));
    });
    return result;
  }

  /** True the first time it is asked for an instance and day: one warning per instance per day. */
  async firstWarningOfDay(instanceId: string, day: string): Promise<boolean> {
    const key = `${this.keys.prefix}:api-budget-warned:${instanceId}:${day}`;
    return (await this.redis.set(key, '1', 'EX', WARNED_TTL_SECONDS, 'NX')) === 'OK';
  }
}
