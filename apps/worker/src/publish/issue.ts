import { lockIncident, recentOccurrences, reopenIncident, setIncidentIssue, type IncidentRow, type PublicationOutcome } from '@pitcrew/core';
import { contentHash, GITHUB_TEXT_MAX_BYTES, outgoing, reportMarkdown, truncateUtf8, type PublishContent } from './content.ts';
import { asPublishError, isGone, type Sink } from './sink.ts';

/** Hidden first line of an escalation issue. */
export function incidentMarker(incident: Pick<IncidentRow, 'id' | 'signature'>): string {
  return `<!-- pitcrew:incident ${incident.id} ${incident.signature} -->`;
}

/** Title of an incident's issue (fixed at creation; GitHub's title limit is 256 characters). */
export function issueTitle(content: PublishContent, incident: IncidentRow): string {
  const what = content.failure.jobName ?? content.failure.checkName ?? content.failure.workflowName ?? 'CI';
  return truncateUtf8(`pitcrew: recurring ${incident.category} failure in ${what}`, 250, '…');
}

/** One recent failure of an incident, for the issue body. */
export interface Occurrence {
  id: string;
  branch: string | null;
  head_sha: string;
  html_url: string | null;
  received_at: Date | string;
}

/** Body of an incident's issue: occurrence count, first/last seen, recent occurrences, the (shared) diagnosis. */
export function issueBody(content: PublishContent, incident: IncidentRow, recent: Occurrence[]): string {
  const iso = (d: unknown) => new Date(d as string).toISOString();
  const head = [
    incidentMarker(incident),
    `This breakage has failed CI **${incident.occurrences} times** in ${incident.owner}/${incident.repo} (first seen ${iso(incident.first_seen_at)}, last seen ${iso(incident.last_seen_at)}).`,
    '',
    '## Recent occurrences',
    '',
    ...recent.map((o) => `- ${iso(o.received_at)} \`${o.id}\`${o.branch ? ` on \`${outgoing(o.branch)}\`` : ''} at ${o.head_sha.slice(0, 7)}${o.html_url ? ` — [failed job](${o.html_url})` : ''}`),
    '',
    '## Diagnosis',
    '',
  ].join('\n');
  return head + reportMarkdown(content, GITHUB_TEXT_MAX_BYTES - Buffer.byteLength(head));
}

/** How many recent occurrences the issue lists. */
const RECENT_OCCURRENCES = 10;

/**
 * Escalation: once an incident (one breakage, same signature in one repository; see
 * `joinIncident`) has `escalateAfter` or more occurrences, one issue for the incident
 * (`POST /repos/{o}/{r}/issues`), its body PATCHed with the occurrence count on every later
 * occurrence. The issue number lives on the incident row, read and written under a row lock, so
 * concurrent occurrences open one issue. Needs `issues: write`.
 */
export function createIssueSink(options: { escalateAfter: number }): Sink {
  return {
    name: 'issue',
    async publish({ content, previous, trx, octokit, signal }): Promise<PublicationOutcome> {
      if (!content.incident) return { status: 'skipped', reason: 'no incident (no log excerpt to sign)' };
      if (!octokit) return { status: 'skipped', reason: 'no GitHub credential for this installation' };
      const incident = await lockIncident(trx, content.incident.id);
      if (!incident) return { status: 'skipped', reason: 'incident deleted' };
      if (incident.occurrences < options.escalateAfter) {
        return { status: 'skipped', reason: `incident seen ${incident.occurrences} time(s), escalated at ${options.escalateAfter}` };
      }
      const { owner, repo } = incident;
      const recent = await recentOccurrences(trx, incident.id, RECENT_OCCURRENCES);
      const body = issueBody(content, incident, recent);
      const hash = contentHash({ body, issue: incident.issue_number });
      if (previous.status === 'published' && previous.content_hash === hash && incident.issue_number !== null && !incident.closed_at) return { status: 'published', reason: 'unchanged' };
      try {
        if (incident.issue_number !== null) {
          try {
            // An issue pitcrew closed once quiet is reopened when the breakage comes back.
            const { data } = await octokit.rest.issues.update({ owner, repo, issue_number: incident.issue_number, body, ...(incident.closed_at ? { state: 'open' as const } : {}), request: { signal } });
            if (incident.closed_at) await reopenIncident(trx, incident.id);
            return { status: 'published', externalId: String(data.number), externalUrl: data.html_url, contentHash: hash };
          } catch (error) {
            if (!isGone(error)) throw error; // deleted or transferred away: open a new one
          }
        }
        const { data } = await octokit.rest.issues.create({ owner, repo, title: issueTitle(content, incident), body, request: { signal } });
        await setIncidentIssue(trx, incident.id, { number: data.number, url: data.html_url });
        return { status: 'published', externalId: String(data.number), externalUrl: data.html_url, contentHash: contentHash({ body, issue: data.number }) };
      } catch (error) {
        throw asPublishError(error, 'escalation issue');
      }
    },
  };
}
