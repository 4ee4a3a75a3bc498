import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { defaultPages } from '../default-pages.ts';
import { startConsole, type ConsoleHandle } from '../main.ts';
import { startRealRun, until, type RealRun } from './real-run.fixture.ts';

/**
 * Every console page in a real headless Chromium (Debian's `chromium`, driven by playwright-core)
 * over the data of a real run (real-run.fixture.ts), served by the console process (`startConsole`, the
 * pages behind the real sign-in and session CSRF check): renders with no console error, labelled
 * forms, a keyboard-only retry through the CSRF-protected form, and a screenshot per page kept under
 * `test-output/console/` (gitignored). Without /usr/bin/chromium the suite is skipped and says so.
 */
const CHROMIUM = '/usr/bin/chromium';
/** Flags for a machine without network access: no GPU, no QUIC, no background or sync traffic (as board.int.test.ts). */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the screenshots are kept for people to look at. */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../../../test-output/console');
const ADMIN_TOKEN = 'browser-test-admin-token-0123456789';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[console screenshots] SKIPPED: ${CHROMIUM} not found; install it (apt-get install chromium) to run this test`);

describe.skipIf(!haveChromium)('the console pages in headless Chromium', () => {
  let run: RealRun;
  let consoleApp: ConsoleHandle;
  let base: string;
  let profile: string;
  let context: BrowserContext;

  beforeAll(async () => {
    run = await startRealRun();
    consoleApp = await startConsole(
      { REDIS_URL: inject('redisUrl'), DATABASE_URL: run.tdb.url, PITCREW_QUEUE_PREFIX: run.prefix, PITCREW_ADMIN_TOKEN: ADMIN_TOKEN, PITCREW_CONSOLE_PORT: '0', PITCREW_CONSOLE_HOST: '127.0.0.1' },
      { logger: pino({ level: 'silent' }), ...(defaultPages ? { pages: defaultPages } : {}) },
    );
    base = consoleApp.url;
    profile = await mkdtemp(join(tmpdir(), 'pitcrew-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    // Sign in once, by keyboard, as an operator would: the session cookie then serves every page.
    const page = await context.newPage();
    await page.goto(`${base}/failures`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await Promise.all([page.waitForURL(/\/failures$/), page.keyboard.press('Enter')]);
    await page.close();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await consoleApp?.close();
    await run?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  /** Opens `path`, failing on any console error or uncaught page error; @returns the page and its errors. */
  async function open(path: string): Promise<{ page: Page; errors: string[]; status: number | undefined }> {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    const response = await page.goto(`${base}${path}`, { waitUntil: 'load' });
    return { page, errors, status: response?.status() };
  }

  /** Every visible form control has a label (its accessible name comes from a `<label for>`). */
  async function unlabelledControls(page: Page): Promise<string[]> {
    // Run in the page; a string, as this package is type-checked without the DOM library.
    return page.evaluate<string[]>(`[...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter((el) => el.labels.length === 0).map((el) => el.outerHTML)`);
  }

  it('renders every page without console errors, labelled, and screenshots it', async () => {
    const incident = await run.tdb.db.selectFrom('incidents').select('id').executeTakeFirstOrThrow();
    const pages: [string, string][] = [
      ['failures', '/failures'],
      ['failure-fixed', `/failures/${run.failures.lint}`],
      ['failure-resolved', `/failures/${run.failures.unit20}`],
      ['failure-no-log', `/failures/${encodeURIComponent(run.failures.checkRun)}`],
      ['incidents', '/incidents'],
      ['incident', `/incidents/${incident.id}`],
      ['flaky', '/flaky'],
      ['spend', '/spend'],
      ['breakers', '/breakers'],
    ];
    for (const [name, path] of pages) {
      const { page, errors, status } = await open(path);
      expect(status, path).toBe(200);
      await expect(page.locator('h1').innerText()).resolves.not.toBe('');
      expect(await page.title()).toContain('pitcrew console');
      expect(await unlabelledControls(page), path).toEqual([]);
      const file = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      const png = await readFile(file);
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      expect(png.readUInt32BE(16)).toBe(1280);
      expect(errors, path).toEqual([]);
      console.log(`[console screenshot] ${file} (${png.length} bytes)`);
      await page.close();
    }
  });

  it('finds the filters by their labels and filters by keyboard', async () => {
    const { page } = await open('/failures');
    await page.getByLabel('Repository').fill('octo-org/shop');
    await page.getByLabel('Category').selectOption('lint');
    await page.getByLabel('Open or resolved').selectOption('open');
    await page.getByLabel('Received from (UTC day)').fill(new Date().toISOString().slice(0, 10));
    await page.getByLabel('Repository').focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/category=lint/);
    const links = await page.locator('tbody a').allInnerTexts();
    expect(links).toEqual(['lint']);
    await page.close();
  });

  it('retries by keyboard alone: Tab to the retry button (focus visible), Enter, the CSRF-checked POST succeeds', async () => {
    const id = run.failures.unit22;
    const { page, errors } = await open(`/failures/${id}`);
    const button = page.getByRole('button', { name: 'Retry triage' });
    await expect(button.isEnabled()).resolves.toBe(true);
    let reached = false;
    for (let i = 0; i < 80 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate<boolean>(`document.activeElement?.tagName === 'BUTTON' && document.activeElement.textContent.trim() === 'Retry triage'`);
    }
    expect(reached).toBe(true);
    const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
    expect(outline).not.toBe('none');
    const before = await run.tdb.db.selectFrom('executions').select('id').where('failure_id', '=', id).execute();
    await Promise.all([page.waitForURL(/notice=retried/), page.keyboard.press('Enter')]);
    await expect(page.getByRole('status').innerText()).resolves.toContain('Retry queued');
    await until('the retried round ran', () => run.tdb.db.selectFrom('executions').select('id').where('failure_id', '=', id).execute(), (rows) => rows.length >= before.length + 3);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses the same POST without the session CSRF token', async () => {
    const response = await context.request.post(`${base}/failures/${run.failures.unit22}/retry`, { form: { stage: 'classify' } });
    expect(response.status()).toBe(403);
    const forged = await context.request.post(`${base}/failures/${run.failures.unit22}/retry`, { form: { stage: 'classify', _csrf: 'forged' } });
    expect(forged.status()).toBe(403);
  });
});
