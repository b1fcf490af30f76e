import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configCommand } from '../../src/cli/config-command.ts';
import { demoCommand } from '../../src/cli/demo-command.ts';
import { emulatorsCommand } from '../../src/cli/emulators-command.ts';
import { resetCommand } from '../../src/cli/reset-command.ts';
import { runCommand } from '../../src/cli/run-command.ts';
import { parseRoles, startCommand } from '../../src/cli/start-command.ts';
import { statusCommand } from '../../src/cli/status-command.ts';

// We cannot run Docker here, so the compose file is checked for what would break it: every service runs a real
// `lsa` command with options that command accepts, and every environment variable it references is documented.

const COMMANDS = [
  demoCommand,
  startCommand,
  runCommand,
  statusCommand,
  resetCommand,
  configCommand,
  emulatorsCommand,
];
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      command?: string[];
      image?: string;
      environment?: Record<string, string>;
      ports?: string[];
      healthcheck?: { test: string[] };
    }
  >;
};
const readme = readFileSync('README.md', 'utf8');

describe('docker-compose.yml', () => {
  const lsaServices = Object.entries(compose.services).filter(([, s]) =>
    s.image?.startsWith('looker-activity-pipeline'),
  );

  it('has a scheduler, workers, a dashboard, Redis with persistence and noeviction, and a demo profile', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['redis', 'scheduler', 'worker', 'dashboard', 'demo']),
    );
    const redis = compose.services.redis!.command!.join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
  });

  it.each(lsaServices.map(([name, s]) => [name, s.command ?? []]))(
    'service %s runs a real lsa command',
    (_name, command) => {
      const [name, ...args] = command as string[];
      const found = COMMANDS.find((c) => c.name === name);
      expect(found, `lsa ${name}`).toBeDefined();
      for (let i = 0; i < args.length; i++) {
        const arg = args[i]!;
        if (!arg.startsWith('--')) continue;
        const option = found!.options[arg.slice(2)];
        expect(option, `lsa ${name} ${arg}`).toBeDefined();
        if (option!.type === 'string') {
          const value = args[++i]!;
          if (arg === '--role') expect(() => parseRoles(value)).not.toThrow();
        }
      }
    },
  );

  it('documents every environment variable it references in the README', () => {
    const text = readFileSync('docker-compose.yml', 'utf8');
    const referenced = new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
    for (const service of Object.values(compose.services)) {
      for (const name of Object.keys(service.environment ?? {})) referenced.add(name);
    }
    const undocumented = [...referenced].filter((name) => {
      if (readme.includes(`\`${name}\``)) return false;
      // LOOKER_<INSTANCE>_CLIENT_ID and friends are documented by pattern
      return (
        !/^LOOKER_[A-Z0-9_]+_CLIENT_(ID|SECRET)$/.test(name) ||
        !readme.includes('LOOKER_<INSTANCE>_CLIENT_ID')
      );
    });
    expect(undocumented).toEqual([]);
  });
});

describe('docker-compose.yml health and exposure', () => {
  it('has a healthcheck for every service', () => {
    const missing = Object.entries(compose.services).filter(([, s]) => !s.healthcheck?.test?.length);
    expect(missing.map(([name]) => name)).toEqual([]);
  });

  it('refuses to start a dashboard published beyond loopback without credentials', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const published = (service.ports ?? []).some((p) => !String(p).startsWith('127.0.0.1:'));
      const runsDashboard =
        service.command?.[0] === 'start' && /dashboard|all/.test(service.command.join(' '));
      if (!published || !runsDashboard) continue;
      expect(service.environment?.LSA_DASHBOARD_USER, name).toMatch(/^\$\{LSA_DASHBOARD_USER:\?/);
      expect(service.environment?.LSA_DASHBOARD_PASSWORD, name).toMatch(/^\$\{LSA_DASHBOARD_PASSWORD:\?/);
      // it probes the port it publishes
      const port = String(service.ports![0]).split(':').at(-1);
      expect(service.healthcheck!.test.join(' '), name).toContain(`127.0.0.1:${port}/`);
    }
  });

  it("probes the worker's health port, the one the image's HEALTHCHECK reads", () => {
    const worker = compose.services.worker!;
    const port = worker.environment!.LSA_HEALTH_PORT!;
    expect(worker.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${port}/healthz`);
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*LSA_HEALTH_PORT\|\|3000[\s\S]*\/healthz/);
    expect(dockerfile).toMatch(/AS runtime/);
    expect(dockerfile).toMatch(/AS demo/);
    expect(dockerfile).toMatch(/ARG NODE_VERSION=/);
  });
});

describe('README', () => {
  it("its example config is valid (so a newcomer's copy works)", async () => {
    const { parseConfigText } = await import('../../src/config/load.ts');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const config = parseConfigText(yaml, 'README example', {
      env: {
        REDIS_URL: 'redis://127.0.0.1:6379',
        LSA_HASH_KEY: 'x'.repeat(32),
        LOOKER_PROD_EU_CLIENT_ID: 'id',
        LOOKER_PROD_EU_CLIENT_SECRET: 'secret',
      },
    });
    expect(config.instances[0]!.exports.map((e) => e.definition.name)).toEqual([
      'history',
      'content_usage',
      'user',
    ]);
  });
});
