import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

// Google's own CLIs (`gcloud storage`, `bq`) run as child processes against the emulators, configured the way a
// user points them there: a fake access token in a file, the endpoint override for Cloud Storage, `--api` for bq.
// Each test file gets a private home and CLOUDSDK_CONFIG, so nothing is read from or written to the user's own
// gcloud/bq configuration, and nothing is asked of any network but loopback.

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** True when `command` is on the PATH; the CLI tests skip, visibly, when it is not. */
export function cliInstalled(command: 'gcloud' | 'bq'): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface CliSandbox {
  dir: string;
  /** The environment every CLI call runs with. */
  env: NodeJS.ProcessEnv;
  /** Runs a CLI; resolves with its exit code and output, never rejects on a non-zero exit. */
  run(command: 'gcloud' | 'bq', args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
  remove(): Promise<void>;
}

export interface SandboxOptions {
  project: string;
  /** `<gcs emulator url>/storage/v1/` goes to CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE. */
  gcsUrl?: string;
}

/** The variables (besides HOME and CLOUDSDK_CONFIG) that point gcloud and bq at the emulators; the README's lines. */
export function emulatorCliEnv(tokenFile: string, options: SandboxOptions): Record<string, string> {
  return {
    CLOUDSDK_AUTH_ACCESS_TOKEN_FILE: tokenFile,
    CLOUDSDK_CORE_PROJECT: options.project,
    ...(options.gcsUrl ? { CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${options.gcsUrl}/storage/v1/` } : {}),
  };
}

export async function createCliSandbox(options: SandboxOptions): Promise<CliSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'lsa-cli-'));
  const home = join(dir, 'home');
  const config = join(dir, 'gcloud-config');
  await mkdir(home);
  await mkdir(config);
  const tokenFile = join(dir, 'token');
  // Any text will do: the emulators do not check tokens; the CLIs only need one so they do not try to log in.
  await writeFile(tokenFile, 'emulator-token\n');
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !key.startsWith('CLOUDSDK_') && !/^(https?|no|all)_proxy$/i.test(key) && key !== 'BIGQUERYRC',
    ),
  );
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    HOME: home,
    CLOUDSDK_CONFIG: config,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
    CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
    // One process per command: no parallel workers to start (and no CPU to spare for them).
    CLOUDSDK_STORAGE_PROCESS_COUNT: '1',
    CLOUDSDK_STORAGE_THREAD_COUNT: '2',
    ...emulatorCliEnv(tokenFile, options),
  };
  return {
    dir,
    env,
    run: (command, args, extraEnv = {}) =>
      new Promise((resolve) => {
        execFile(
          command,
          args,
          { env: { ...env, ...extraEnv }, cwd: dir, timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) => {
            const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Fails with the CLI's own words when it did not succeed, so a broken command explains itself. */
export function expectSuccess(result: CliResult, what: string): CliResult {
  if (result.code !== 0) {
    throw new Error(
      `${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return result;
}
