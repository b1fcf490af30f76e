import { main } from './main.ts';

// The process entry of `lsa`: the runtime image runs it compiled (`node dist/cli/run.js`), bin/lsa.js imports it
// through tsx in a checkout. Nothing else belongs here: main() is what the tests call in-process.
process.exitCode = await main(process.argv.slice(2));
