import type { PublicationOutcome } from '@pitcrew/core';
import { headline, SLACK_TEXT_MAX_BYTES, truncateUtf8, verdict, type PublishContent } from './content.ts';
import { PermanentPublishError, type Sink } from './sink.ts';

/** ms before a webhook POST is abandoned (and retried by the job's backoff). */
const SLACK_TIMEOUT_MS = 10_000;

/** Slack `mrkdwn` escaping: `&`, `<` and `>` (Slack docs, "Formatting text for app surfaces"). */
function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The message text: verdict, where, summary, links (the console's page, the failed job), and the last lines of the excerpt. */
export function slackText(content: PublishContent): string {
  const f = content.failure;
  const link = `${content.consoleUrl ? ` <${content.consoleUrl}|in the console>` : ''}${f.htmlUrl ? ` <${f.htmlUrl}|failed job>` : ''}`;
  const head = `*pitcrew* · ${escapeMrkdwn(`${f.owner}/${f.repo}`)} · *${escapeMrkdwn(verdict(content))}*${link}\n${escapeMrkdwn(headline(content))}\n${escapeMrkdwn(content.summary)}`;
  const excerpt = content.excerpt ? `\n\`\`\`${escapeMrkdwn(content.excerpt.split('\n').slice(-15).join('\n').replaceAll('```', "'''"))}\`\`\`` : '';
  return truncateUtf8(head + excerpt, SLACK_TEXT_MAX_BYTES, '…');
}

/** The message of an escalated fix loop: where, why, the PR. */
export function slackEscalationText(content: PublishContent, fix: NonNullable<PublishContent['fix']>): string {
  const f = content.failure;
  const pr = fix.pr_url ? ` <${fix.pr_url}|fix PR #${fix.pr_number}>` : '';
  return truncateUtf8(`*pitcrew* · ${escapeMrkdwn(`${f.owner}/${f.repo}`)} · *fix loop escalated* after ${fix.iteration} iteration${fix.iteration === 1 ? '' : 's'}${pr}\n${escapeMrkdwn(fix.reason ?? '')}`, SLACK_TEXT_MAX_BYTES, '…');
}

/**
 * One message per failure to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat,
 * Discord's `/slack` endpoint): `POST {"text": …}`. Incoming webhooks have no idempotency key and
 * no message id, so "sent once" is the `publications` row: once `published`, re-runs send nothing.
 * A crash between the POST and the row's commit can send a second copy (at-least-once).
 *
 * Not `@slack/webhook`: it is one JSON POST, and that package brings axios for it; Node's fetch
 * with a timeout does the same.
 */
export function createSlackSink(options: { webhookUrl: string }): Sink {
  return {
    name: 'slack',
    async publish({ content, previous, signal }): Promise<PublicationOutcome> {
      // A fix loop that ended escalated is told once more (once per loop end), after the diagnosis.
      const escalated = content.fix?.escalation ? content.fix : null;
      const told = (previous.detail as { escalatedIteration?: number } | null)?.escalatedIteration;
      if (previous.status === 'published' && (!escalated || told === escalated.iteration)) return { status: 'published', reason: 'unchanged' };
      const text = previous.status === 'published' && escalated ? slackEscalationText(content, escalated) : slackText(content);
      const response = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(SLACK_TIMEOUT_MS)]),
      });
      const answer = (await response.text()).slice(0, 200);
      // Slack answers 400 invalid_payload, 403 action_prohibited, 404 no_service, 410 no_service
      // for a revoked webhook: retrying cannot help. 429 and 5xx are retried.
      if ([400, 403, 404, 410].includes(response.status)) throw new PermanentPublishError(`webhook answered ${response.status} ${answer}`);
      if (!response.ok) throw new Error(`webhook answered ${response.status} ${answer}`);
      return { status: 'published', externalId: null, externalUrl: null, ...(escalated ? { detail: { escalatedIteration: escalated.iteration } } : {}) };
    },
  };
}
