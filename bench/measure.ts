import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

// Helpers shared by the benchmarks: child processes (so a variant's peak RSS is its own), medians, tables,
// Redis INFO deltas, and which process holds which Redis connection.

export interface ChildResult {
  [key: string]: unknown;
  /** Set when the child printed no result (a crash, an out-of-memory kill). */
  crashed?: string;
}

/** The project a file belongs to: the nearest directory above it holding a tsconfig.json. */
function projectRoot(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'tsconfig.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no tsconfig.json in any directory above ${file}`);
  }
}

/** Compiled trees by project root: each project is compiled once per benchmark process. */
const compiled = new Map<string, Promise<string>>();

/**
 * `src/` and `bench/` of the project holding `file`, compiled to JavaScript in a temporary directory with the
 * production build's options (tsconfig.build.json), as the runtime image runs them: a child started through tsx
 * would carry tsx's loader thread and source maps, about 36 MB that a worker does not have. The directory gets
 * the project's package.json (ESM, the version) and node_modules as links, and goes when this process exits.
 * Type errors elsewhere (work in progress) do not stop it; nothing emitted does.
 */
function compileProject(root: string): Promise<string> {
  let build = compiled.get(root);
  if (build) return build;
  const out = mkdtempSync(join(tmpdir(), 'lsa-bench-build-'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: fileURLToPath(new URL('../tsconfig.build.json', import.meta.url)),
      compilerOptions: { rootDir: root, outDir: out },
      include: [join(root, 'src'), join(root, 'bench')],
    }),
  );
  symlinkSync(join(root, 'package.json'), join(out, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  build = new Promise((resolveBuild, rejectBuild) => {
    const child = spawn(process.execPath, [tsc, '-p', tsconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('exit', (code) => {
      // tsc exits 2 when it reports errors but emitted, 1 when it emitted nothing.
      if (code === 0) resolveBuild(out);
      else if (code === 2 && existsSync(join(out, 'bench'))) {
        process.stderr.write(
          `  compiling ${root} for the benchmark children: type errors, compiled anyway\n`,
        );
        resolveBuild(out);
      } else rejectBuild(new Error(`tsc -p ${tsconfig} (${root}) exited ${code}: ${output.slice(-1000)}`));
    });
  });
  compiled.set(root, build);
  return build;
}

/**
 * Runs a benchmark's TypeScript file compiled ahead of time (see compileProject; the first call of a project
 * compiles it) in a child process, from this process's working directory, and returns the last JSON line it
 * printed. Rejects only when the project does not compile; a child that dies without a result (e.g. out of
 * memory) comes back as `{ crashed }`.
 */
export async function runChild(
  file: string,
  args: string[],
  env: Record<string, string> = {},
  nodeOptions: string[] = [],
): Promise<ChildResult> {
  const source = resolve(file);
  const root = projectRoot(source);
  const script = join(await compileProject(root), relative(root, source)).replace(/\.ts$/, '.js');
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...nodeOptions, script, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      const last = out
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop();
      if (last) {
        resolvePromise(JSON.parse(last) as ChildResult);
        return;
      }
      const lastError = err
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /error|heap|memory/i.test(l))
        .pop();
      resolvePromise({ crashed: `exit ${code ?? signal}: ${lastError ?? err.trim().slice(-300)}` });
    });
  });
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** 12345.6 → "12,346" */
export function thousands(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * Peak resident set size of this process in MB: the kernel's high-water mark of this process's own memory
 * (`VmHWM`). Not `process.resourceUsage().maxRSS`: Linux keeps a process's `ru_maxrss` across `execve`, so a
 * child spawned by a larger parent (the benchmark, holding the emulator and its rows) reports the parent's peak
 * until its own passes it.
 */
export function peakRssMb(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    if (kb !== undefined) return Math.round(Number(kb) / 1024);
  } catch {
    // not Linux: no /proc
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** CPU seconds (user + system, every thread of this process) since it started. */
export function cpuSeconds(): number {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}

// ---------------------------------------------------------------------------------------------------- Redis

/** Calls per command since the server started (INFO commandstats; commands run inside Lua scripts included). */
export async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1]!, Number(match[2]));
  return stats;
}

/** Microseconds spent per command since the server started (INFO commandstats `usec`; a script's time includes
 * the commands it runs, which are also counted under their own names). */
export async function commandMicros(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=\d+,usec=(\d+)/gm))
    stats.set(match[1]!, Number(match[2]));
  return stats;
}

/** CPU seconds the Redis server has used (INFO cpu, user + system). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** The bench's own observation commands, never counted as the pipeline's. */
const OBSERVER_COMMANDS = new Set(['info', 'client|list', 'monitor', 'config|resetstat']);

export function commandDelta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    if (OBSERVER_COMMANDS.has(name)) continue;
    const d = calls - (before.get(name) ?? 0);
    if (d > 0) out.set(name, d);
  }
  return out;
}

export interface RedisClientEntry {
  id: string;
  addr: string;
  name: string;
  cmd: string;
}

export async function clientList(redis: Redis): Promise<RedisClientEntry[]> {
  return String(await redis.client('LIST'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1] ?? '';
      return { id: field('id'), addr: field('addr'), name: field('name'), cmd: field('cmd') };
    });
}

/** BullMQ names its blocking connections `<prefix>:<base64 queue name>`; shown as `blocking <queue>`. */
export function readableClientName(name: string): string {
  const bullmq = /^\{[^}]+\}:([A-Za-z0-9+/=]+)$/.exec(name);
  if (bullmq) {
    const queue = Buffer.from(bullmq[1]!, 'base64').toString('utf8');
    if (/^[\w.-]+$/.test(queue)) return `blocking ${queue}`;
  }
  return name === '' ? '(unnamed)' : name;
}

/**
 * Which local process holds each TCP connection to `port` on loopback (Linux /proc): client `addr`
 * (`127.0.0.1:<local port>`) → pid. Only the given pids are looked at.
 */
export function connectionOwners(port: number, pids: number[]): Map<string, number> {
  const inodeToAddr = new Map<string, string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const [, localPortHex] = cols[1]!.split(':');
      const [, remotePortHex] = cols[2]!.split(':');
      if (Number.parseInt(remotePortHex ?? '', 16) !== port) continue;
      inodeToAddr.set(cols[9]!, `127.0.0.1:${Number.parseInt(localPortHex ?? '', 16)}`);
    }
  }
  const owners = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      const addr = inode ? inodeToAddr.get(inode) : undefined;
      if (addr) owners.set(addr, pid);
    }
  }
  return owners;
}

export interface ProcessConnections {
  pid: number;
  total: number;
  /** readable connection name → count */
  byName: Map<string, number>;
}

/** Redis connections of each of `pids`, from CLIENT LIST matched to sockets. */
export async function connectionsPerProcess(
  redis: Redis,
  port: number,
  pids: number[],
): Promise<ProcessConnections[]> {
  const clients = await clientList(redis);
  const owners = connectionOwners(port, pids);
  return pids.map((pid) => {
    const mine = clients.filter((c) => owners.get(c.addr) === pid);
    const byName = new Map<string, number>();
    for (const c of mine) {
      const name = readableClientName(c.name);
      byName.set(name, (byName.get(name) ?? 0) + 1);
    }
    return { pid, total: mine.length, byName };
  });
}
