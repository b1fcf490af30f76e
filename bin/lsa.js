#!/usr/bin/env node
// The `lsa` command. The project runs its TypeScript sources directly through tsx: one code path for the CLI,
// the tests and production, with nothing to build first.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
