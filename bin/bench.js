#!/usr/bin/env node
// `npm run bench`: the benchmarks (never part of `npm test`). See docs/benchmarks.md.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../bench/main.ts');
process.exitCode = await main(process.argv.slice(2));
