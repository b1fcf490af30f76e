import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

// Real `lsa` processes for tests that need several nodes, kills and signals.

export interface LsaProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

const BIN = resolve('bin/lsa.js');

export function spawnLsa(args: string[], env: Record<string, string> = {}): LsaProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LSA_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return { child, output: () => output, exited, kill: (signal = 'SIGTERM') => child.kill(signal) };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, stdout and stderr apart (command output goes to stdout, logs to stderr). */
export function runApart(command: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolveRun) => child.once('exit', (code) => resolveRun({ code, stdout, stderr })));
}

export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function workerArgs(configFile: string, envFile: string, nodeId: string): string[] {
  return ['start', '--role', 'worker', '--config', configFile, '--env-file', envFile, '--node-id', nodeId];
}
