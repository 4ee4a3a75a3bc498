import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv as parseDotenv } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEnv } from '@pitcrew/core';
import { WorkerEnv } from '@pitcrew/worker';
import { formatDotEnvValue, updateDotEnvFile } from './dotenv-update.ts';

const pem = generateKeyPairSync('rsa', { modulusLength: 1024, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pitcrew-dotenv-'));
  path = join(dir, '.env');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('updateDotEnvFile', () => {
  it('replaces assignments in place, keeps every other line, appends new keys under a comment, backs up the old file', () => {
    const before = [
      '# my settings',
      'LOG_LEVEL=debug',
      'GITHUB_WEBHOOK_SECRET=old-secret',
      '',
      '# a key pasted by hand, quoted over lines',
      'GITHUB_APP_PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----',
      'abc',
      '-----END RSA PRIVATE KEY-----"',
      'PITCREW_RUNNER=rules # trailing comment',
      'export GITHUB_WEBHOOK_SECRET=a-duplicate',
      '',
    ].join('\n');
    writeFileSync(path, before, { mode: 0o644 });
    const result = updateDotEnvFile(path, { GITHUB_WEBHOOK_SECRET: 'new-secret', GITHUB_APP_PRIVATE_KEY: pem, GITHUB_APP_ID: '123' }, 'GitHub App pitcrew');
    expect(result).toMatchObject({ updated: ['GITHUB_WEBHOOK_SECRET', 'GITHUB_APP_PRIVATE_KEY'], added: ['GITHUB_APP_ID'] });
    const text = readFileSync(path, 'utf8');
    expect(text.split('\n')).toEqual([
      '# my settings',
      'LOG_LEVEL=debug',
      'GITHUB_WEBHOOK_SECRET=new-secret',
      '',
      '# a key pasted by hand, quoted over lines',
      `GITHUB_APP_PRIVATE_KEY=${pem.replaceAll('\n', '\\n')}`,
      'PITCREW_RUNNER=rules # trailing comment',
      '',
      '# GitHub App pitcrew',
      'GITHUB_APP_ID=123',
      '',
    ]);
    expect(readFileSync(result.backup!, 'utf8')).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['.env', result.backup!.slice(dir.length + 1)].sort());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(result.backup!).mode & 0o777).toBe(0o600);
  });

  it('writes a PEM the worker reads back as the same key (Node dotenv, then WorkerEnv)', () => {
    updateDotEnvFile(path, { GITHUB_APP_ID: '7', GITHUB_APP_PRIVATE_KEY: pem });
    const env = parseEnv(WorkerEnv, { ...parseDotenv(readFileSync(path, 'utf8')), REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u:p@127.0.0.1/db' });
    expect(env.GITHUB_APP_PRIVATE_KEY).toBe(pem);
    expect(createPrivateKey(env.GITHUB_APP_PRIVATE_KEY!).asymmetricKeyType).toBe('rsa');
    // A new file: no backup.
    expect(readdirSync(dir)).toEqual(['.env']);
  });

  it('reads a quote never closed as Node does: one line, the lines below it kept', () => {
    writeFileSync(path, 'GITHUB_APP_ID="12\nB=1\n');
    updateDotEnvFile(path, { GITHUB_APP_ID: '9' });
    expect(readFileSync(path, 'utf8')).toBe('GITHUB_APP_ID=9\nB=1\n');
  });
});

describe('formatDotEnvValue', () => {
  it('leaves plain values bare, single-quotes the rest, refuses what no form keeps intact', () => {
    expect(formatDotEnvValue('e340154128314309424b7c8e90325147d99fdafa')).toBe('e340154128314309424b7c8e90325147d99fdafa');
    expect(formatDotEnvValue('https://ghe.example.com/api/v3')).toBe('https://ghe.example.com/api/v3');
    expect(formatDotEnvValue('a #hash')).toBe("'a #hash'");
    expect(() => formatDotEnvValue("it's\nmulti")).toThrow(/cannot write/);
  });
});
