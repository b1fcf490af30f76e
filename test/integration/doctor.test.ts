import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LookerInstanceSpec } from 'lsa-emulators/looker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackConfig } from '../../src/cli/emulator-config.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { ExportFieldsError, verifyExportFieldsAtWorkerStart } from '../../src/doctor/worker-start.ts';
import { createLogger } from '../../src/logging.ts';
import { LookerClients } from '../../src/looker/client.ts';
import { createContext } from '../../src/pipeline/context.ts';
import { startWorkerRole } from '../../src/pipeline/roles.ts';
import { startTestPipeline, type TestPipeline } from '../helpers/pipeline.ts';
import { spawnLsa } from '../helpers/processes.ts';
import { redisUrl, uniquePrefix } from '../helpers/redis.ts';

// `lsa doctor` as operators run it (a child process) against the emulator stack, and the fields check a worker
// runs at start (in process). Each broken setup is one config variant or one emulator fault, so every ❌ below
// has exactly one cause.

const A: LookerInstanceSpec = {
  id: 'doc-a',
  clientId: 'doc-a-client-id-4b1e',
  clientSecret: 'doc-a-secret-8d2f7c91',
  seed: 71,
  historyRows: 60,
  historyDays: 2,
};
const B: LookerInstanceSpec = {
  id: 'doc-b',
  clientId: 'doc-b-client-id-52aa',
  clientSecret: 'doc-b-secret-0c6e3d47',
  seed: 72,
  historyRows: 50,
  historyDays: 2,
};
/** Looker silently returns at most 40 rows per query here: below the config's default rowCap of 5000. */
const CAPPED: LookerInstanceSpec = {
  id: 'doc-capped',
  clientId: 'doc-capped-client-id-77',
  clientSecret: 'doc-capped-secret-e19b2f',
  seed: 73,
  historyRows: 120,
  historyDays: 2,
  maxRowLimit: 40,
};
const WRONG_SECRET = 'doc-wrong-secret-a1b2c3d4';
const SECRETS = [A, B, CAPPED].flatMap((i) => [i.clientId, i.clientSecret]).concat(WRONG_SECRET);

const SLOW_QUERIES_WITH_TYPO = `exports:
  slow_queries:
    explore: history
    fields:
      - { field: history.id, type: number }
      - { field: history.created_time, type: date_time }
      - { field: history.runtyme, type: number, bigqueryType: FLOAT }
    key: history.id
    cursor: history.created_time`;

let pipeline: TestPipeline;
const configs: Record<'good' | 'capped' | 'badField' | 'noBucket' | 'unreachable', string> = {
  good: '',
  capped: '',
  badField: '',
  noBucket: '',
  unreachable: '',
};
const yamls: Record<string, string> = {};

/** A config for some of the stack's instances (the stack itself serves all of them). */
function variant(
  name: keyof typeof configs,
  instances: LookerInstanceSpec[],
  options: { exports?: string[]; extraYaml?: string; edit?: (yaml: string) => string } = {},
): void {
  const { yaml } = stackConfig(
    { ...pipeline.stack, instances },
    {
      redisUrl: redisUrl(),
      spoolDir: join(pipeline.dir, 'spool'),
      prefix: uniquePrefix('doctor'),
      exports: options.exports ?? ['history', 'user', 'event'],
      ...(options.extraYaml ? { extraYaml: options.extraYaml } : {}),
    },
  );
  const text = options.edit ? options.edit(yaml) : yaml;
  const file = join(pipeline.dir, `${name}.yaml`);
  writeFileSync(file, text);
  configs[name] = file;
  yamls[name] = text;
}

beforeAll(async () => {
  pipeline = await startTestPipeline({ instances: [A, B, CAPPED], startWorker: false });
  variant('good', [A, B]);
  variant('capped', [CAPPED]);
  variant('badField', [A, B], { exports: ['history', 'slow_queries'], extraYaml: SLOW_QUERIES_WITH_TYPO });
  variant('noBucket', [A], {
    edit: (yaml) => yaml.replace(/^ {2}bucket: .*$/m, '  bucket: lsa-doctor-no-such-bucket'),
  });
  // doc-b's Looker at a port nothing listens on
  variant('unreachable', [A, B], {
    edit: (yaml) =>
      yaml.replace(/(baseUrl: )http:\/\/127\.0\.0\.1:\d+(\/instances\/doc-b)/, '$1http://127.0.0.1:9$2'),
  });
});

afterAll(async () => {
  await pipeline?.close();
});

interface Run {
  code: number | null;
  output: string;
}

/** `lsa doctor` in a child process; every run is also checked for leaked secrets. */
async function doctor(config: string, args: string[] = [], env: Record<string, string> = {}): Promise<Run> {
  const child = spawnLsa(['doctor', '--config', config, '--env-file', pipeline.envFile, ...args], env);
  const code = await child.exited;
  const output = child.output();
  for (const secret of SECRETS) expect(output, 'a secret leaked').not.toContain(secret);
  return { code, output };
}

interface JsonCheck {
  area: string;
  instance?: string;
  check: string;
  status: 'pass' | 'fail' | 'info';
  detail: string;
  fix?: string;
}

function failures(run: Run): JsonCheck[] {
  return (JSON.parse(run.output).checks as JsonCheck[]).filter((c) => c.status === 'fail');
}

describe('lsa doctor', () => {
  it('passes every check on a good stack and exits 0', async () => {
    const run = await doctor(configs.good);
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain('❌');
    for (const id of [A.id, B.id]) {
      for (const check of ['login', 'system activity', 'export fields']) {
        expect(run.output).toMatch(new RegExp(`✅ looker ${id}\\s+${check}\\s`));
      }
      expect(run.output).toMatch(new RegExp(`looker ${id}\\s+row cap`));
      expect(run.output).toMatch(new RegExp(`looker ${id}\\s+time zone\\s+UTC`));
    }
    expect(run.output).toMatch(/✅ gcs\s+bucket\s+wrote, read back and deleted/);
    expect(run.output).toMatch(/✅ bigquery\s+dataset/);
    expect(run.output).toMatch(/✅ bigquery\s+query jobs/);
    expect(run.output).toMatch(/✅ bigquery\s+tables\s+created and dropped/);
    expect(run.output).toMatch(/all \d+ checks passed/);
    // the probes clean up after themselves
    expect(pipeline.stack.gcs.store.listObjects('lsa-demo', 'looker-activity/_lsa_doctor')).toEqual([]);
  });

  it('--json prints the same checks as data', async () => {
    const run = await doctor(configs.good, ['--json', '--instance', A.id]);
    expect(run.code, run.output).toBe(0);
    const report = JSON.parse(run.output) as {
      ok: boolean;
      summary: { passed: number; failed: number; info: number };
      checks: JsonCheck[];
    };
    expect(report.ok).toBe(true);
    expect(report.summary.failed).toBe(0);
    expect(report.summary.passed + report.summary.info).toBe(report.checks.length);
    // --instance limits the Looker checks to that instance
    expect(new Set(report.checks.filter((c) => c.area === 'looker').map((c) => c.instance))).toEqual(
      new Set([A.id]),
    );
    expect(report.checks.map((c) => c.area)).toEqual(expect.arrayContaining(['looker', 'gcs', 'bigquery']));
    for (const check of report.checks) {
      expect(Object.keys(check).sort()).toEqual(
        expect.arrayContaining(['area', 'check', 'detail', 'status']),
      );
      expect(['pass', 'info']).toContain(check.status);
    }
    expect(report.checks.find((c) => c.check === 'time zone')?.detail).toMatch(/^UTC/);
  });

  it('names the missing field and the export that names it, and exits 1', async () => {
    const run = await doctor(configs.badField, ['--json']);
    expect(run.code, run.output).toBe(1);
    const failed = failures(run);
    expect(failed.map((f) => `${f.instance} ${f.check}`).sort()).toEqual([
      `${A.id} export slow_queries`,
      `${B.id} export slow_queries`,
    ]);
    expect(failed[0]!.detail).toContain('"history.runtyme" not in explore "history"');
    expect(failed[0]!.fix).toContain('exports.slow_queries');
    const table = await doctor(configs.badField, ['--instance', A.id]);
    expect(table.code).toBe(1);
    expect(table.output).toMatch(/❌ looker doc-a\s+export slow_queries\s+field "history.runtyme"/);
    expect(table.output).toMatch(/fix: correct the field name under exports\.slow_queries/);
  });

  it('a wrong client secret fails the login, without printing either secret', async () => {
    const run = await doctor(configs.good, ['--instance', B.id], {
      LSA_DOC_B_CLIENT_SECRET: WRONG_SECRET,
    });
    expect(run.code, run.output).toBe(1);
    expect(run.output).toMatch(/❌ looker doc-b\s+login\s+client id\/secret rejected/);
    expect(run.output).toContain('fix: check the API3 credentials in ${LSA_DOC_B_CLIENT_ID}');
    expect(run.output).toMatch(/looker doc-b\s+other checks\s+skipped until login works/);
    // Cloud Storage and BigQuery are still checked
    expect(run.output).toMatch(/✅ gcs\s+bucket/);
  });

  it('an API user without System Activity gets the permission fix', async () => {
    const faults = pipeline.stack.looker.instance(A.id).faults;
    faults.inject({ kind: 'status', status: 404, on: 'explore', times: 1000 });
    try {
      const run = await doctor(configs.good, ['--json', '--instance', A.id]);
      expect(run.code, run.output).toBe(1);
      const [failed, ...others] = failures(run);
      expect(others).toEqual([]);
      expect(failed).toMatchObject({ instance: A.id, check: 'system activity' });
      expect(failed!.fix).toBe(
        'give the API user the see_system_activity permission (a role with it, or Admin)',
      );
    } finally {
      faults.clear();
    }
  });

  it('a Looker row cap below rowCap is found and the right rowCap is named', async () => {
    const run = await doctor(configs.capped, ['--json']);
    expect(run.code, run.output).toBe(1);
    const [failed, ...others] = failures(run);
    expect(others).toEqual([]);
    expect(failed).toMatchObject({ instance: CAPPED.id, check: 'row cap' });
    expect(failed!.detail).toContain('Looker returned 40');
    expect(failed!.fix).toMatch(/^set rowCap: 40 on instance doc-capped/);
  });

  it('a bucket that does not exist fails the Cloud Storage check, naming the bucket', async () => {
    const run = await doctor(configs.noBucket, ['--json']);
    expect(run.code, run.output).toBe(1);
    const [failed, ...others] = failures(run);
    expect(others).toEqual([]);
    expect(failed).toMatchObject({ area: 'gcs', check: 'bucket' });
    expect(failed!.detail).toMatch(/^gs:\/\/lsa-doctor-no-such-bucket: write failed/);
    expect(failed!.fix).toContain('gs://lsa-doctor-no-such-bucket');
  });

  it('an unreachable Looker fails the login with the baseUrl named', async () => {
    const run = await doctor(configs.unreachable, ['--json', '--instance', B.id]);
    expect(run.code, run.output).toBe(1);
    const [failed, ...others] = failures(run);
    expect(others).toEqual([]);
    expect(failed).toMatchObject({ instance: B.id, check: 'login' });
    expect(failed!.detail).toMatch(/^no answer from http:\/\/127\.0\.0\.1:9\/instances\/doc-b/);
    expect(failed!.fix).toMatch(/^check baseUrl/);
  });

  it('refuses an unknown --instance with exit 2', async () => {
    const run = await doctor(configs.good, ['--instance', 'nope']);
    expect(run.code).toBe(2);
    expect(run.output).toContain('unknown instance "nope" (configured: doc-a, doc-b)');
  });
});

describe('worker start', () => {
  function logSink() {
    let text = '';
    const destination = {
      write(chunk: string) {
        text += chunk;
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { logger: createLogger({ level: 'warn', pretty: false, destination }), text: () => text };
  }

  it('fails at once on a field Looker does not have, naming the export and the field', async () => {
    const config = parseConfigText(yamls.badField!, configs.badField);
    const context = createContext(config, { logger: logSink().logger });
    try {
      const error = await startWorkerRole(context).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ExportFieldsError);
      expect((error as Error).message).toContain(
        'instance "doc-a", export "slow_queries": field "history.runtyme" is not in explore "history"',
      );
      expect((error as Error).message).toContain('instance "doc-b", export "slow_queries"');
      // nothing started: the node never registered
      expect(await context.nodes.list()).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('`lsa start --role worker` exits 1 with the field named, instead of running', async () => {
    const child = spawnLsa([
      'start',
      '--role',
      'worker',
      '--config',
      configs.badField,
      '--env-file',
      pipeline.envFile,
    ]);
    const code = await child.exited;
    expect(code, child.output()).toBe(1);
    expect(child.output()).toContain(
      'export "slow_queries": field "history.runtyme" is not in explore "history"',
    );
  });

  it('does not wait for a Looker that hangs: a warning after the timeout', async () => {
    const faults = pipeline.stack.looker.instance(A.id).faults;
    faults.inject({ kind: 'hang', on: 'explore', times: 100 });
    const sink = logSink();
    const clients = new LookerClients();
    const config = parseConfigText(yamls.good!, configs.good);
    try {
      await verifyExportFieldsAtWorkerStart(config.instances, clients, sink.logger, { timeoutMs: 1_000 });
      expect(sink.text()).toContain('Looker did not answer in time');
      expect(sink.text()).toContain('"instance":"doc-a"');
      expect(sink.text()).not.toContain('"instance":"doc-b"');
    } finally {
      faults.clear();
    }
  });

  it('starts with a warning when one instance is unreachable', async () => {
    expect(yamls.unreachable).toContain('http://127.0.0.1:9/instances/doc-b');
    const sink = logSink();
    const context = createContext(parseConfigText(yamls.unreachable!, configs.unreachable), {
      logger: sink.logger,
    });
    try {
      const worker = await startWorkerRole(context);
      await worker.close();
      expect(sink.text()).toContain('export fields not checked at worker start: Looker unavailable');
      expect(sink.text()).toContain('"instance":"doc-b"');
      expect(sink.text()).not.toContain('"instance":"doc-a"');
      for (const secret of SECRETS) expect(sink.text()).not.toContain(secret);
    } finally {
      await context.close();
    }
  });
});
