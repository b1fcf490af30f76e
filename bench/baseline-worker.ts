import { FlowProducer, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { baselineOptions } from './baseline.ts';

// One process of the bare BullMQ baseline (bench/baseline.ts): three Workers like a pipeline worker process
// (extract, its own upload queue, load), each with its own connection, plus one shared connection for the
// flow producer. Prints {"ready":true} once started; SIGTERM closes everything.

const [url, prefix, nodeId, concurrencyText, paceText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string | undefined,
];
const concurrency = Number(concurrencyText);
// Optional: how long each kind of job takes (ms), so the bare flow's jobs arrive as the pipeline's do (an upload
// only when an extract finishes, one by one) instead of all at once.
const pace = (paceText ? JSON.parse(paceText) : {}) as Partial<Record<'extract' | 'upload' | 'load', number>>;
const takes = (kind: 'extract' | 'upload' | 'load') =>
  pace[kind] ? new Promise((resolve) => setTimeout(resolve, pace[kind])) : undefined;
const connection = () => new Redis(url, { maxRetriesPerRequest: null, connectionName: `baseline-${nodeId}` });
const shared = connection();
const flow = new FlowProducer({ connection: shared, prefix });
const workerConnections = [connection(), connection(), connection()] as const;
const workers = [
  new Worker(
    'extract',
    async (job) => {
      await takes('extract');
      await flow.add({
        name: 'load',
        queueName: 'load',
        data: job.data,
        opts: { ...baselineOptions.load, jobId: `load-${job.id}` },
        children: [
          {
            name: 'upload',
            queueName: `upload-${nodeId}`,
            data: job.data,
            opts: { ...baselineOptions.upload, jobId: `upload-${job.id}` },
          },
        ],
      });
      return { rows: 1, loadJobId: `load-${job.id}` };
    },
    { prefix, concurrency, connection: workerConnections[0] },
  ),
  new Worker(
    `upload-${nodeId}`,
    async () => {
      await takes('upload');
      return { uri: 'gs://bucket/object' };
    },
    {
      prefix,
      concurrency,
      connection: workerConnections[1],
    },
  ),
  new Worker(
    'load',
    async () => {
      await takes('load');
      return { rowsLoaded: 1 };
    },
    {
      prefix,
      concurrency,
      connection: workerConnections[2],
    },
  ),
];
process.stdout.write('{"ready":true}\n');
process.once('SIGTERM', () => {
  void (async () => {
    await Promise.all(workers.map((w) => w.close()));
    await flow.close();
    await Promise.all([shared, ...workerConnections].map((c) => c.quit().catch(() => undefined)));
    process.exit(0);
  })();
});
