import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMAND_SUMMARIES } from '../../src/cli/summaries.ts';
import { instanceSpec } from '../helpers/instances.ts';
import { expectedKeys, loadedKeys, startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { type Ran, runApart } from '../helpers/processes.ts';

// The runtime image runs `lsa` compiled ahead of time (`npm run build`, tsconfig.build.json: src/ → dist/) with
// `node dist/cli/run.js`, no tsx. This builds the same tree and runs it the way the image does.
//
// Layout: a temporary directory laid out like the image's /app: dist/ (the build's outDir), and package.json,
// reports/ and node_modules as links to the checkout's. The compiled code finds package.json and reports/ one
// level above dist/ (import.meta.url), as the sources find them one level above src/; the checkout's node_modules
// holds the production modules and more (the image holds only the production ones: checked by hand with
// `npm ci --omit=dev --workspaces=false`, see the README's Deployment section).

const app = mkdtempSync(join(tmpdir(), 'lsa-compiled-'));
const dist = join(app, 'dist');
const entry = join(dist, 'cli/run.js');

/** The compiled `lsa`, as the image's ENTRYPOINT runs it. */
const lsa = (...args: string[]) => runApart(process.execPath, [entry, ...args]);

let pipeline: TestPipeline;
let build: Ran;

beforeAll(async () => {
  for (const name of ['package.json', 'reports', 'node_modules']) symlinkSync(resolve(name), join(app, name));
  // The compile (about 10 s of CPU) and the emulators start side by side.
  const tsc = resolve('node_modules/typescript/bin/tsc');
  [build, pipeline] = await Promise.all([
    runApart(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dist]),
    startTestPipeline({
      instances: [instanceSpec('compiled', 41, { historyRows: 80, historyDays: 2 })],
      exports: ['history', 'user'],
      defaults: { window: '30d', horizon: '5d' },
      startWorker: false,
    }),
  ]);
}, 90_000);

afterAll(async () => {
  await pipeline?.close();
  rmSync(app, { recursive: true, force: true });
});

describe('the compiled build (npm run build)', () => {
  it('compiles without errors to JavaScript only: no declarations, no source maps', () => {
    expect(build.code, build.stdout + build.stderr).toBe(0);
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => /\.[a-z]+$/.test(f));
    expect(files).toContain(join('cli', 'run.js'));
    expect(files.filter((f) => !f.endsWith('.js'))).toEqual([]);
    // every relative import was rewritten to the emitted .js (a `.ts` one would fail at run time, maybe late,
    // behind a lazily loaded command)
    const tsImports = files.filter((f) =>
      /(?:from\s+|import\()\s*['"]\.{1,2}\/[^'"]*\.ts['"]/.test(readFileSync(join(dist, f), 'utf8')),
    );
    expect(tsImports).toEqual([]);
  });

  it('node dist/cli/run.js --help lists every command; --version and the reports resolve from dist/', async () => {
    const [help, version, reports] = await Promise.all([
      lsa('--help'),
      lsa('--version'),
      lsa('reports', 'list'),
    ]);
    expect(help.code, help.stderr).toBe(0);
    for (const name of Object.keys(COMMAND_SUMMARIES)) expect(help.stdout).toContain(`  ${name} `);
    // package.json, read relative to the compiled build-info module
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version,
    );
    // reports/*.sql, read relative to the compiled catalog module
    expect(reports.code, reports.stderr).toBe(0);
    const listed = reports.stdout
      .trim()
      .split('\n')
      .map((line) => line.split(/\s+/)[0]);
    const sql = readdirSync('reports')
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.slice(0, -4));
    expect(listed.sort()).toEqual(sql.sort());
  });

  it('start --once through the compiled CLI loads every row Looker served into BigQuery', async () => {
    const once = await lsa(
      'start',
      '--once',
      '--config',
      pipeline.configFile,
      '--env-file',
      pipeline.envFile,
    );
    expect(once.code, once.stderr.slice(-2000)).toBe(0);
    expect(once.stdout).toMatch(/instance\s+export\s+windows\s+rows loaded\s+result/);
    for (const resolved of pipeline.config.instances[0]!.exports) {
      const expected = expectedKeys(pipeline.stack, 'compiled', resolved, Date.now());
      expect(expected.length, resolved.definition.name).toBeGreaterThan(0);
      expect(await loadedKeys(pipeline.context, resolved, 'compiled'), resolved.definition.name).toEqual(
        expected,
      );
    }
  });
});

describe('the image runs the compiled entry', () => {
  it("the runtime target's ENTRYPOINT and compose's node health commands name dist/cli/run.js", () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const runtime = dockerfile.slice(dockerfile.indexOf(' AS runtime'));
    expect(runtime).toContain('ENTRYPOINT ["node", "dist/cli/run.js"]');
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(dockerfile).toMatch(/ AS build\n[\s\S]*RUN npm run build\n/);
    const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { image?: string; healthcheck?: { test: string[] } }>;
    };
    // every file a runtime-image service hands to node (not `node -e`) is one the image holds
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image !== 'looker-activity-pipeline:latest') continue;
      const test = service.healthcheck?.test ?? [];
      const script = test[test.indexOf('node') + 1];
      if (test.includes('node') && script !== '-e') expect(script, name).toBe('dist/cli/run.js');
    }
  });
});
