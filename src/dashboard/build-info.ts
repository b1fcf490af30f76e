import { readFileSync } from 'node:fs';

// What this build is: the version in package.json (one source for `lsa --version`, `lsa_build_info` on /metrics
// and the status page) and the Node version running it.

let cached: string | undefined;

export function packageVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}

export function buildInfo(): { version: string; node: string } {
  return { version: packageVersion(), node: process.versions.node };
}
