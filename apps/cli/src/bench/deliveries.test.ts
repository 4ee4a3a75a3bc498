import { verify } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { isIgnored, normalizeGithubEvent } from '@pitcrew/core';
import { buildDeliveryMixes, MIX_NON_FAILURES_PER_FAILURE } from './deliveries.ts';

const SECRET = 'bench-secret-0123456789';

describe('bench ingest deliveries', () => {
  it('signs every body, marks the delivery id for replacement, and mixes 1 failure per 20', async () => {
    const mixes = await buildDeliveryMixes(SECRET);
    expect(mixes.failures).toHaveLength(mixes.counts.failures);
    expect(mixes.mix).toHaveLength(mixes.counts.failures * (MIX_NON_FAILURES_PER_FAILURE + 1));
    const isFailure = (r: (typeof mixes.mix)[number]) => !isIgnored(normalizeGithubEvent(r.headers['x-github-event']!, JSON.parse(r.body)));
    expect(mixes.failures.every(isFailure)).toBe(true);
    expect(mixes.mix.filter(isFailure)).toHaveLength(mixes.counts.failures);
    for (const request of [...mixes.failures, ...mixes.mix]) {
      expect(await verify(SECRET, request.body, request.headers['x-hub-signature-256']!)).toBe(true);
      expect(request.headers['x-github-delivery']).toBe('[<id>]');
    }
    // All four CI events appear among the failures.
    expect(new Set(mixes.failures.map((r) => r.headers['x-github-event']))).toEqual(new Set(['check_run', 'check_suite', 'workflow_run', 'workflow_job']));
  });
});
