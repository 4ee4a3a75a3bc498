import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { chromium, type BrowserContext } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { allQueueNames, QUEUES } from '@pitcrew/core';
import { createTestDatabase, createTestRedis, deleteKeysWithPrefix, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { BOARD_PATH } from './board.ts';
import { startConsole, type ConsoleHandle } from './main.ts';

/**
 * Bull Board in a real headless Chromium against a real console process: the browser is sent to
 * `/login`, signs in with the admin token typed into the form, and the board lists every queue. Debian's `chromium` package (.ci/run installs it); without it the test is skipped and
 * says so.
 */
const CHROMIUM = '/usr/bin/chromium';
/** Flags for a machine without network access: no GPU, no QUIC, no background or sync traffic. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Where the screenshot is kept for people to look at (gitignored). */
const SCREENSHOT = resolve(import.meta.dirname, '../../../.pitcrew/screenshots/board.png');
const ADMIN_TOKEN = 'board-screenshot-token-0123456789';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`[board screenshot] SKIPPED: ${CHROMIUM} not found; install it (apt-get install chromium) to run this test`);
}

describe.skipIf(!haveChromium)('Bull Board in headless Chromium', () => {
  const logger = pino({ level: 'silent' });
  const prefix = testPrefix();
  let tdb: TestDatabase;
  let redis: Redis;
  let console_: ConsoleHandle;
  let profile: string;
  let context: BrowserContext;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    redis = createTestRedis();
    console_ = await startConsole(
      {
        REDIS_URL: inject('redisUrl'),
        DATABASE_URL: tdb.url,
        PITCREW_ADMIN_TOKEN: ADMIN_TOKEN,
        PITCREW_QUEUE_PREFIX: prefix,
        PITCREW_CONSOLE_PORT: '0',
        PITCREW_CONSOLE_HOST: '127.0.0.1',
      },
      { logger },
    );
    // One waiting triage job, so the board shows a count, not only empty queues.
    const triage = new Queue(QUEUES.triage, { connection: redis, prefix });
    await triage.add('triage', { v: 1, failureId: 'board-screenshot' });
    await triage.close();
    profile = await mkdtemp(join(tmpdir(), 'pitcrew-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
  });

  afterAll(async () => {
    await context?.close();
    await console_?.close();
    if (redis) {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
    await tdb?.destroy();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('sends a browser without a session to /login', async () => {
    const response = await fetch(`${console_.url}${BOARD_PATH}`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`/login?next=${encodeURIComponent(BOARD_PATH)}`);
  });

  it('signs in by keyboard at /login, shows every queue, and screenshots the page', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url}`);
    });
    await page.goto(`${console_.url}${BOARD_PATH}`, { waitUntil: 'domcontentloaded' });
    expect(new URL(page.url()).pathname).toBe('/login');
    // The field is found by its label, filled and submitted with the keyboard alone.
    await page.getByLabel('Admin token').focus();
    await page.keyboard.type(ADMIN_TOKEN);
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.keyboard.press('Enter')]);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe(BOARD_PATH);
    const cookie = (await context.cookies()).find((c) => c.name === 'pitcrew_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    const names = allQueueNames();
    // The board is a single-page app: queue names appear once it has fetched them from its API.
    for (const name of names) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    const text = await page.locator('body').innerText();
    for (const name of names) expect(text).toContain(name);
    expect(await page.title()).toContain('pitcrew');

    await mkdir(resolve(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = await readFile(SCREENSHOT);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    // IHDR: width and height, big-endian, right after the signature and chunk header.
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBeGreaterThan(0);
    expect(png.length).toBeGreaterThan(10_000);
    console.log(`[board screenshot] ${SCREENSHOT} (${png.length} bytes)`);
    // Bull Board's page asks fonts.googleapis.com for its fonts, unreachable here; nothing of the console's own may fail.
    expect(errors.filter((e) => !e.includes('https://fonts.googleapis.com/'))).toEqual([]);
  });
});
