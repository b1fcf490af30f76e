import { FlowProducer, Worker } from 'bullmq';
import { Redis } from 'ioredis';

// The bare BullMQ baseline for the fan-out benchmark: the same three-job shape as the pipeline (an extract job
// that adds a load ← upload flow), with processors that do nothing else. Run as a child process.

const [url, prefix, nodeId] = process.argv.slice(2) as [string, string, string];
const connection = () => new Redis(url, { maxRetriesPerRequest: null, connectionName: `baseline-${nodeId}` });
const shared = connection();
const flow = new FlowProducer({ connection: shared, prefix });
const options = { prefix, concurrency: 8 };
const workers = [
  new Worker(
    'extract',
    async (job) => {
      await flow.add({
        name: 'load',
        queueName: 'load',
        data: job.data,
        opts: { jobId: `load-${job.id}`, attempts: 3, removeOnComplete: { count: 5000 } },
        children: [
          {
            name: 'upload',
            queueName: `upload-${nodeId}`,
            data: job.data,
            opts: { jobId: `upload-${job.id}`, attempts: 3 },
          },
        ],
      });
      return { rows: 1 };
    },
    { ...options, connection: connection() },
  ),
  new Worker(`upload-${nodeId}`, async () => ({ uri: 'gs://x/y' }), { ...options, connection: connection() }),
  new Worker('load', async () => ({ rows: 1 }), { ...options, connection: connection() }),
];
process.stdout.write('{"ready":true}\n');
process.on('SIGTERM', async () => {
  await Promise.all(workers.map((w) => w.close()));
  await flow.close();
  process.exit(0);
});
