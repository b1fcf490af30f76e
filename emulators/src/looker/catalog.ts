import {
  CRON_SCHEDULES,
  FIRST_NAMES,
  LAST_NAMES,
  LOOKML_DASHBOARDS,
  MODELS,
  type ModelSpec,
  QUERY_FIELD_NAMES,
  TITLE_AREAS,
  TITLE_KINDS,
  USER_TIMEZONES,
} from './names.ts';
import { Draw, hash32, Stream } from './random.ts';
import { DAY } from './time.ts';
import { Timeline } from './timeline.ts';

// The slowly changing entities of an instance: users, dashboards, Looks, queries and scheduled plans. They are
// few (thousands), so each record is generated once from (seed, id) and cached. All of them were created in the
// year before the History window, so every History row can reference any of them; ids grow with creation time.

export interface UserRecord {
  id: number;
  firstName: string;
  lastName: string;
  /** `first.last@example.com`; null for embed users, which Looker creates without an email. */
  email: string | null;
  createdSec: number;
  isDisabled: boolean;
  timezone: string | null;
  isAdmin: boolean;
  isDeveloper: boolean;
  isEmbed: boolean;
  isLookerEmployee: boolean;
  hasApiCredentials: boolean;
  homeFolderId: number;
  /** When the user was deleted (gone from System Activity from the next refresh), or null. */
  purgedSec: number | null;
}

export interface DashboardRecord {
  id: number;
  title: string;
  description: string | null;
  createdSec: number;
  deletedSec: number | null;
  deleterId: number | null;
  userId: number;
  spaceId: number;
  hidden: boolean;
  queryIds: number[];
  /** When it was deleted for good (gone from System Activity from the next refresh), or null. */
  purgedSec: number | null;
}

export interface LookRecord {
  id: number;
  title: string;
  createdSec: number;
  updatedSec: number;
  deletedSec: number | null;
  deleterId: number | null;
  lastUpdaterId: number;
  isPublic: boolean;
  queryId: number;
  spaceId: number;
  userId: number;
  /** When it was deleted for good (gone from System Activity from the next refresh), or null. */
  purgedSec: number | null;
}

export interface QueryRecord {
  id: number;
  createdSec: number;
  model: string;
  view: string;
  fields: string[];
  slug: string;
  limit: number;
  modelSpec: ModelSpec;
}

export interface PlanRecord {
  id: number;
  name: string;
  cron: string;
  createdSec: number;
  updatedSec: number;
  userId: number;
  dashboardId: number | null;
  lookId: number | null;
  queryId: number | null;
  enabled: boolean;
  requireResults: boolean;
  sendAllResults: boolean;
  timezone: string;
}

export interface CatalogSizes {
  users: number;
  dashboards: number;
  looks: number;
  adHocQueries: number;
  plans: number;
}

export function catalogSizes(spec: {
  historyRows: number;
  users?: number;
  dashboards?: number;
  looks?: number;
}) {
  const root = Math.sqrt(Math.max(1, spec.historyRows));
  const clamp = (value: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(value)));
  const dashboards = spec.dashboards ?? clamp(root, 3, 5000);
  const looks = spec.looks ?? clamp(1.5 * root, 3, 8000);
  return {
    users: spec.users ?? clamp(2 * root, 5, 20_000),
    dashboards,
    looks,
    adHocQueries: clamp(spec.historyRows / 20, 20, 200_000),
    plans: clamp((dashboards + looks) / 6, 1, 5000),
  } satisfies CatalogSizes;
}

const YEAR = 365 * DAY;
/** Share of users, dashboards and Looks deleted for good over the data's time range (when deletions are on). */
const DELETED_SHARE = 0.04;
/** Deletions keep happening this long after the emulator started, so a clock moved forward sees some. */
const DELETIONS_AFTER_START = 30 * DAY;

export interface CatalogOptions {
  /** Some users, dashboards and Looks are deleted for good over time. */
  deletions: boolean;
  /** The user of the API credentials: never deleted, always an admin with API credentials; optional identity. */
  apiUser: { id: number; email?: string; firstName?: string; lastName?: string };
}

export type PurgeableKind = 'user' | 'dashboard' | 'look';

const PURGE_SALT: Record<PurgeableKind, number> = { user: 1, dashboard: 2, look: 3 };

/** True when an entity had not yet been moved to trash nor deleted at `atSec` (Infinity: never will be). */
function usableAt(
  record: { deletedSec?: number | null; purgedSec: number | null } | null,
  atSec: number,
): boolean {
  if (!record) return false;
  const gone = Math.min(
    record.deletedSec ?? Number.POSITIVE_INFINITY,
    record.purgedSec ?? Number.POSITIVE_INFINITY,
  );
  return gone === Number.POSITIVE_INFINITY || gone > atSec;
}

/** True when an entity is still in its System Activity table as of `asOfSec`. */
export function existsAsOf(record: { purgedSec: number | null }, asOfSec: number): boolean {
  return record.purgedSec === null || record.purgedSec > asOfSec;
}
const MODEL_TABLE = MODELS.map((m) => [m, m.weight] as const);

export class Catalog {
  readonly sizes: CatalogSizes;
  readonly entitiesStartSec: number;
  // Filled with undefined up front: assigning far past the end of an empty array makes V8 store it as a slow
  // dictionary, which showed up in profiles.
  private readonly users: (UserRecord | undefined)[];
  private readonly dashboards: (DashboardRecord | undefined)[];
  private readonly looks: (LookRecord | undefined)[];
  private readonly queries: (QueryRecord | undefined)[];
  private readonly plans: (PlanRecord | undefined)[];
  private readonly times: Record<'users' | 'dashboards' | 'looks' | 'queries' | 'plans', Timeline>;
  /** First query id of each dashboard's tiles; ids [tileStart[d], tileStart[d+1]) belong to dashboard d+1. */
  private readonly tileStart: number[];
  readonly queryCount: number;

  constructor(
    private readonly seed: number,
    sizes: CatalogSizes,
    /** Start of the History window: every entity is older. */
    readonly windowStartSec: number,
    /** End of the History window (the emulator's start). */
    readonly windowEndSec: number,
    private readonly options: CatalogOptions = { deletions: false, apiUser: { id: 1 } },
  ) {
    this.sizes = sizes;
    this.entitiesStartSec = windowStartSec - YEAR;
    const timeline = (stream: number, generated: number) =>
      new Timeline({
        seed,
        stream: Stream.entityTime * 100 + stream,
        generated,
        startSec: this.entitiesStartSec,
        endSec: windowStartSec,
      });
    // Query ids: one per Look, then each dashboard's tiles, then ad hoc (Explore/API) queries.
    this.tileStart = [];
    let next = sizes.looks + 1;
    for (let d = 1; d <= sizes.dashboards; d++) {
      this.tileStart.push(next);
      next += new Draw(seed, Stream.dashboards, d * 7 + 1).between(1, 8);
    }
    this.tileStart.push(next);
    this.queryCount = next - 1 + sizes.adHocQueries;
    const slots = <T>(count: number): (T | undefined)[] =>
      new Array<T | undefined>(count + 1).fill(undefined);
    this.users = slots(sizes.users);
    this.dashboards = slots(sizes.dashboards);
    this.looks = slots(sizes.looks);
    this.queries = slots(this.queryCount);
    this.plans = slots(sizes.plans);
    this.times = {
      users: timeline(Stream.users, sizes.users),
      dashboards: timeline(Stream.dashboards, sizes.dashboards),
      looks: timeline(Stream.looks, sizes.looks),
      queries: timeline(Stream.queries, this.queryCount),
      plans: timeline(Stream.plans, sizes.plans),
    };
  }

  user(id: number): UserRecord | null {
    if (!Number.isInteger(id) || id < 1 || id > this.sizes.users) return null;
    let user = this.users[id];
    if (!user) {
      user = this.makeUser(id);
      this.users[id] = user;
    }
    return user;
  }

  dashboard(id: number): DashboardRecord | null {
    if (!Number.isInteger(id) || id < 1 || id > this.sizes.dashboards) return null;
    let dashboard = this.dashboards[id];
    if (!dashboard) {
      dashboard = this.makeDashboard(id);
      this.dashboards[id] = dashboard;
    }
    return dashboard;
  }

  look(id: number): LookRecord | null {
    if (!Number.isInteger(id) || id < 1 || id > this.sizes.looks) return null;
    let look = this.looks[id];
    if (!look) {
      look = this.makeLook(id);
      this.looks[id] = look;
    }
    return look;
  }

  query(id: number): QueryRecord | null {
    if (!Number.isInteger(id) || id < 1 || id > this.queryCount) return null;
    let query = this.queries[id];
    if (!query) {
      query = this.makeQuery(id);
      this.queries[id] = query;
    }
    return query;
  }

  plan(id: number): PlanRecord | null {
    if (!Number.isInteger(id) || id < 1 || id > this.sizes.plans) return null;
    let plan = this.plans[id];
    if (!plan) {
      plan = this.makePlan(id);
      this.plans[id] = plan;
    }
    return plan;
  }

  get apiUserId(): number {
    return this.options.apiUser.id;
  }

  /** Deletes an entity at `atSec` (or keeps an earlier deletion). Throws for an unknown id or the API user. */
  purge(kind: PurgeableKind, id: number, atSec: number) {
    if (kind === 'user' && id === this.apiUserId)
      throw new Error(`user ${id} is the API user: deleting it would lock the pipeline out`);
    const record =
      kind === 'user' ? this.user(id) : kind === 'dashboard' ? this.dashboard(id) : this.look(id);
    if (!record) throw new Error(`no ${kind} with id ${String(id)}`);
    record.purgedSec = Math.min(record.purgedSec ?? Number.POSITIVE_INFINITY, atSec);
  }

  /** The generated deletion instant of an entity, or null (id 1 and the API user are never deleted). */
  private purgedAt(kind: PurgeableKind, id: number): number | null {
    if (!this.options.deletions || id === 1 || (kind === 'user' && id === this.apiUserId)) return null;
    if (hash32(this.seed, Stream.deletions, id, PURGE_SALT[kind]) / 0x100000000 >= DELETED_SHARE) return null;
    const span = this.windowEndSec + DELETIONS_AFTER_START - this.windowStartSec;
    const at = hash32(this.seed, Stream.deletions, id, 10 + PURGE_SALT[kind]) / 0x100000000;
    return this.windowStartSec + Math.floor(at * span);
  }

  /** A user that still existed at `atSec` (user 1 is never deleted, the fallback). */
  liveUserAt(draw: Draw, atSec: number): number {
    if (!this.options.deletions) return draw.skewedId(this.sizes.users);
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = draw.skewedId(this.sizes.users);
      if (usableAt(this.user(id), atSec)) return id;
    }
    return 1;
  }

  lookmlDashboard(id: string) {
    return LOOKML_DASHBOARDS.find((d) => d.id === id) ?? null;
  }

  /** A dashboard that still existed at `atSec` (dashboard 1 is never deleted, the fallback). */
  liveDashboardAt(draw: Draw, atSec: number): number {
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = draw.skewedId(this.sizes.dashboards);
      if (usableAt(this.dashboard(id), atSec)) return id;
    }
    return 1;
  }

  /** A Look that still existed at `atSec` (Look 1 is never deleted). */
  liveLookAt(draw: Draw, atSec: number): number {
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = draw.skewedId(this.sizes.looks);
      if (usableAt(this.look(id), atSec)) return id;
    }
    return 1;
  }

  adHocQueryId(draw: Draw): number {
    const first = (this.tileStart[this.tileStart.length - 1] as number) - 1;
    return first + draw.skewedId(this.sizes.adHocQueries);
  }

  private makeUser(id: number): UserRecord {
    const draw = new Draw(this.seed, Stream.users, id);
    // A scrambled enumeration of (first, last) pairs keeps emails unique; a numeric suffix past 2000 users.
    const pairs = FIRST_NAMES.length * LAST_NAMES.length;
    const k = ((id - 1) * 7919) % pairs;
    const round = Math.floor((id - 1) / pairs);
    const firstName = FIRST_NAMES[k % FIRST_NAMES.length] as string;
    const lastName = LAST_NAMES[Math.floor(k / FIRST_NAMES.length)] as string;
    const isEmbed = id > 1 && draw.chance(0.05);
    const isAdmin = id === 1 || draw.chance(0.04);
    const user: UserRecord = {
      id,
      firstName,
      lastName,
      email: isEmbed
        ? null
        : `${firstName}.${lastName}${round > 0 ? round + 1 : ''}@example.com`.toLowerCase(),
      createdSec: this.times.users.createdSec(id - 1),
      isDisabled: id > 1 && draw.chance(0.06),
      timezone: draw.chance(0.4) ? null : draw.pick(USER_TIMEZONES),
      isAdmin,
      isDeveloper: isAdmin || draw.chance(0.15),
      isEmbed,
      isLookerEmployee: id > 1 && draw.chance(0.01),
      hasApiCredentials: id === 1 || draw.chance(0.2),
      homeFolderId: 1000 + id,
      purgedSec: this.purgedAt('user', id),
    };
    const api = this.options.apiUser;
    if (id === api.id) {
      // The service account the pipeline's credentials belong to: an enabled admin with API credentials.
      Object.assign(user, { isEmbed: false, isDisabled: false, isAdmin: true, isDeveloper: true });
      Object.assign(user, { hasApiCredentials: true, isLookerEmployee: false });
      if (api.email !== undefined) user.email = api.email;
      if (api.firstName !== undefined) user.firstName = api.firstName;
      if (api.lastName !== undefined) user.lastName = api.lastName;
    }
    return user;
  }

  private title(draw: Draw): string {
    return `${draw.pick(TITLE_AREAS)} ${draw.pick(TITLE_KINDS)}`;
  }

  private deletion(draw: Draw, id: number): { deletedSec: number | null; deleterId: number | null } {
    if (id === 1 || !draw.chance(0.06)) return { deletedSec: null, deleterId: null };
    const span = this.windowEndSec - this.windowStartSec;
    return {
      deletedSec: this.windowStartSec + Math.floor(draw.next() * span),
      deleterId: draw.skewedId(this.sizes.users),
    };
  }

  private makeDashboard(id: number): DashboardRecord {
    const draw = new Draw(this.seed, Stream.dashboards, id);
    const first = this.tileStart[id - 1] as number;
    const end = this.tileStart[id] as number;
    const queryIds: number[] = [];
    for (let q = first; q < end; q++) queryIds.push(q);
    return {
      id,
      title: this.title(draw),
      description: draw.chance(0.5) ? null : 'Maintained by the analytics team.',
      createdSec: this.times.dashboards.createdSec(id - 1),
      userId: draw.skewedId(this.sizes.users),
      spaceId: draw.between(1, 40),
      hidden: draw.chance(0.03),
      queryIds,
      ...this.deletion(draw, id),
      purgedSec: this.purgedAt('dashboard', id),
    };
  }

  private makeLook(id: number): LookRecord {
    const draw = new Draw(this.seed, Stream.looks, id);
    const createdSec = this.times.looks.createdSec(id - 1);
    return {
      id,
      title: this.title(draw),
      createdSec,
      updatedSec: createdSec + Math.floor(draw.next() * (this.windowStartSec - createdSec)),
      lastUpdaterId: draw.skewedId(this.sizes.users),
      isPublic: draw.chance(0.1),
      queryId: id,
      spaceId: draw.between(1, 40),
      userId: draw.skewedId(this.sizes.users),
      ...this.deletion(draw, id),
      purgedSec: this.purgedAt('look', id),
    };
  }

  private makeQuery(id: number): QueryRecord {
    const draw = new Draw(this.seed, Stream.queries, id);
    const modelSpec = draw.weighted(MODEL_TABLE);
    const view = draw.pick(modelSpec.explores);
    const fieldCount = draw.between(2, 5);
    const fields = new Set<string>();
    for (let i = 0; i < fieldCount; i++) fields.add(`${view}.${draw.pick(QUERY_FIELD_NAMES)}`);
    return {
      id,
      createdSec: this.times.queries.createdSec(id - 1),
      model: modelSpec.model,
      view,
      fields: [...fields],
      slug: draw.hex(7).replace(/^[0-9]/, 'q'),
      limit: draw.pick([500, 500, 5000, 1000]),
      modelSpec,
    };
  }

  private makePlan(id: number): PlanRecord {
    const draw = new Draw(this.seed, Stream.plans, id);
    const createdSec = this.times.plans.createdSec(id - 1);
    // Scheduled content is never deleted: Looker stops a plan whose content goes to the trash.
    let dashboardId: number | null = null;
    let lookId: number | null = null;
    let title: string;
    if (draw.chance(0.6)) {
      dashboardId = this.liveDashboardAt(draw, Number.POSITIVE_INFINITY);
      title = this.dashboard(dashboardId)?.title ?? 'Dashboard';
    } else {
      lookId = this.liveLookAt(draw, Number.POSITIVE_INFINITY);
      title = this.look(lookId)?.title ?? 'Look';
    }
    const cron = draw.pick(CRON_SCHEDULES);
    return {
      id,
      name: `${title} (${cron.startsWith('0 8 * * 1') ? 'weekly' : 'daily'})`,
      cron,
      createdSec,
      updatedSec: createdSec + Math.floor(draw.next() * (this.windowStartSec - createdSec)),
      userId: draw.skewedId(this.sizes.users),
      dashboardId,
      lookId,
      queryId: lookId !== null ? (this.look(lookId)?.queryId ?? null) : null,
      enabled: id === 1 || draw.chance(0.9),
      requireResults: draw.chance(0.2),
      sendAllResults: draw.chance(0.1),
      timezone: draw.pick(USER_TIMEZONES),
    };
  }
}
