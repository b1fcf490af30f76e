#!/usr/bin/env node
// The `lsa-emulators` command. Sources are TypeScript, run through tsx: nothing to build first.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
