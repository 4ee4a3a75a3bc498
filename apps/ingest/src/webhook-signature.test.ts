import { randomBytes } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { signatureMatches, signingKey } from './webhook-signature.ts';

describe('signatureMatches', () => {
  const secret = 'It\'s a Secret to Everybody';
  const keys = [signingKey(secret)];

  it('agrees with @octokit/webhooks-methods sign on text bodies of every size', async () => {
    for (const size of [1, 63, 64, 65, 1000, 11_000, 70_000]) {
      const body = randomBytes(size).toString('base64').slice(0, size);
      const signature = await sign(secret, body);
      expect(signatureMatches(keys, Buffer.from(body), signature)).toBe(true);
      expect(signatureMatches(keys, Buffer.from(body + ' '), signature)).toBe(false);
    }
  });

  it("matches GitHub's documented example", () => {
    // GitHub docs, "Validating webhook deliveries": secret "It's a Secret to Everybody", payload "Hello, World!".
    const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(signatureMatches(keys, Buffer.from('Hello, World!'), expected)).toBe(true);
  });

  it('verifies the bytes as sent, also when they are not valid UTF-8', async () => {
    const bytes = Buffer.concat([Buffer.from('{"action":"completed","log":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const { createHmac } = await import('node:crypto');
    const signature = `sha256=${createHmac('sha256', secret).update(bytes).digest('hex')}`;
    expect(signatureMatches(keys, bytes, signature)).toBe(true);
    // Decoding and re-encoding (what a string-only verify needs) changes these bytes.
    expect(Buffer.from(bytes.toString('utf8')).equals(bytes)).toBe(false);
  });

  it('tries older secrets after the current one', async () => {
    const body = '{"action":"completed"}';
    const rotated = [signingKey('new secret'), signingKey(secret)];
    expect(signatureMatches(rotated, Buffer.from(body), await sign(secret, body))).toBe(true);
    expect(signatureMatches([signingKey('new secret')], Buffer.from(body), await sign(secret, body))).toBe(false);
  });

  it('never matches sha1, truncated, padded or non-hex signatures', async () => {
    const body = Buffer.from('{"zen":"Keep it logically awesome."}');
    const good = await sign(secret, body.toString());
    for (const bad of [`sha1=${good.slice(7, 47)}`, good.slice(0, -1), `${good}0`, `${good.slice(0, -2)}zz`, good.replace('sha256=', 'SHA256='), '']) {
      expect(signatureMatches(keys, body, bad)).toBe(false);
    }
  });
});
