import { readdir, rm, rmdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { PipelineContext } from './context.ts';

// A node killed mid-run leaves spool files behind: `<spool.dir>/<node>/<instance>/<export>/<window>.ndjson.gz`
// (finished, waiting for an upload) and `….partial` (an extract cut off). When a worker starts, it sweeps the
// folders of nodes that are not alive, its own included: a file goes when its window is no longer pending in
// Redis (committed, or planned again under another id); a file of a window still pending stays, whatever its
// state, because a restarted node with the same id uploads it from its queue, and the window's plan owns it
// until it commits. Folders of live nodes (another process sharing the disk) are never touched.

const SPOOL_FILE = /^(.+)\.ndjson\.gz(\.partial)?$/;

export interface SpoolSweep {
  removed: string[];
  kept: string[];
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** Removes empty folders below `dir` (deepest first), leaving `dir` itself. */
async function removeEmptyFolders(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    await removeEmptyFolders(path);
    await rmdir(path).catch(() => undefined);
  }
}

export async function sweepSpool(context: PipelineContext): Promise<SpoolSweep> {
  const root = resolve(context.config.spool.dir);
  const alive = new Set(
    (await context.nodes.list())
      .filter((n) => Date.now() - n.lastHeartbeatMs < context.config.workers.deadNodeAfterMs)
      .map((n) => n.nodeId),
  );
  alive.delete(context.nodeId);
  const sweep: SpoolSweep = { removed: [], kept: [] };
  const nodeDirs = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const nodeDir of nodeDirs) {
    if (!nodeDir.isDirectory() || alive.has(nodeDir.name)) continue;
    const base = join(root, nodeDir.name);
    for (const file of await listFiles(base)) {
      const parts = relative(base, file).split(sep);
      const match = parts.length === 3 ? SPOOL_FILE.exec(parts[2]!) : null;
      if (!match) continue; // not ours: leave it
      const [instanceId, exportName] = parts as [string, string];
      const pending = await context.redis.zscore(context.keys.pending(instanceId, exportName), match[1]!);
      if (pending !== null) {
        sweep.kept.push(file);
        continue;
      }
      await rm(file, { force: true });
      sweep.removed.push(file);
    }
    await removeEmptyFolders(base);
  }
  if (sweep.removed.length > 0 || sweep.kept.length > 0)
    context.logger.info(
      { removed: sweep.removed.length, kept: sweep.kept.length, spool: root },
      'spool files left by stopped nodes swept (files of pending windows kept)',
    );
  return sweep;
}
