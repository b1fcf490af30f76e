import type { ChainableCommander } from 'ioredis';

/**
 * Sends a pipeline (commands in one round trip, not a transaction) and returns each command's reply; the first
 * command that failed fails the whole call, so a caller never carries on after a write Redis refused.
 */
export async function sendPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? [];
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0]!;
  return results.map(([, reply]) => reply);
}
