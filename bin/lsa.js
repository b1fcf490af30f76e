#!/usr/bin/env node
// The `lsa` command in a checkout: the TypeScript sources run through tsx, so the CLI, the tests and the demo need
// nothing built first. The runtime image runs the same entry compiled ahead of time (`node dist/cli/run.js`, see
// the Dockerfile): tsx's loader thread and source maps cost a worker about 36 MB. This file never picks dist/ when
// present: a stale build in a checkout would silently run old code.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/run.ts');
