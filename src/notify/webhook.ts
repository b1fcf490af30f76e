import type { PipelineConfig } from '../config/model.ts';
import type { SecretRef } from '../config/secrets.ts';
import type { Logger } from '../logging.ts';

// Operator notifications through a Slack-compatible incoming webhook: a JSON body `{ text, blocks }` (Slack,
// Google Chat and Mattermost read `text`; Slack renders `blocks`). Sending never fails the pipeline: a webhook
// that is down or slow is logged and the event is dropped. What is sent is the pipeline's own wording and its
// error messages, which carry no secrets; as a second guard, the value of every secret the config references is
// replaced before anything leaves the process.

export type NotifyEvent =
  | {
      kind: 'window-failed';
      instanceId: string;
      exportName: string;
      window: string;
      queue: string;
      jobId: string;
      error: string;
    }
  | {
      kind: 'export-stale';
      instanceId: string;
      exportName: string;
      lastLoadedAt: string | null;
      age: string;
      allowed: string;
    }
  | { kind: 'node-dead'; nodeId: string };

export interface Notifier {
  /** Resolves when sent or given up on; never rejects. Returns whether the webhook accepted it. */
  send(event: NotifyEvent): Promise<boolean>;
}

const SEND_TIMEOUT_MS = 5_000;

export function describeEvent(event: NotifyEvent): { title: string; detail: string } {
  switch (event.kind) {
    case 'window-failed':
      return {
        title: `:red_circle: ${event.instanceId} ${event.exportName}: window ${event.window} failed for good`,
        detail: `${event.queue} job ${event.jobId}: ${event.error.slice(0, 1500)}\nFix the cause, then press Retry on the job in Bull Board.`,
      };
    case 'export-stale':
      return {
        title: `:warning: ${event.instanceId} ${event.exportName}: no load for ${event.age.replace(' ago', '')}`,
        detail: `Last load ${event.lastLoadedAt ?? 'never'} (allowed: ${event.allowed}). Check \`lsa status --check\` and failed jobs in Bull Board.`,
      };
    case 'node-dead':
      return {
        title: `:skull: node ${event.nodeId} stopped heartbeating`,
        detail:
          'Its pending windows are extracted again on live nodes. Nothing to do unless it keeps happening.',
      };
  }
}

/** Every secret the config references, as currently set in the environment (to scrub from outgoing text). */
function secretValues(config: PipelineConfig, env: NodeJS.ProcessEnv): string[] {
  const refs: SecretRef[] = config.instances.flatMap((i) => [i.clientId, i.clientSecret]);
  if (config.masking.hashKey) refs.push(config.masking.hashKey);
  return refs
    .filter((ref) => ref.isSet(env))
    .map((ref) => ref.resolve(env))
    .filter((value) => value.length >= 4);
}

export function scrubSecrets(text: string, secrets: string[]): string {
  let scrubbed = text;
  for (const secret of secrets) scrubbed = scrubbed.split(secret).join('[secret]');
  return scrubbed;
}

/** Where a webhook points, for logs: its host only (a Slack webhook's path is itself a credential). */
function webhookHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

export function createNotifier(
  config: PipelineConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Notifier {
  const webhook = config.notify?.webhook;
  if (!webhook) return { send: async () => false };
  return {
    async send(event) {
      const { title, detail } = describeEvent(event);
      const secrets = secretValues(config, env);
      const text = scrubSecrets(`${title}\n${detail}`, secrets);
      const body = {
        text,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: scrubSecrets(`*${title}*`, secrets) } },
          { type: 'section', text: { type: 'mrkdwn', text: scrubSecrets(detail, secrets) } },
        ],
      };
      try {
        const response = await fetch(webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        });
        await response.body?.cancel().catch(() => undefined);
        if (!response.ok) {
          logger.warn(
            { webhook: webhookHost(webhook), status: response.status, event: event.kind },
            'notification webhook refused the message',
          );
          return false;
        }
        return true;
      } catch (error) {
        logger.warn(
          { webhook: webhookHost(webhook), err: (error as Error).message, event: event.kind },
          'notification webhook unreachable: message dropped',
        );
        return false;
      }
    },
  };
}
