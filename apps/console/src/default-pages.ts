import type { PagesFactory } from './main.ts';
import { createPages } from './pages/pages.tsx';
import { csrfField, type ConsoleEnv } from './session.ts';

/**
 * The pages `startConsole` mounts at `/`: {@link createPages} with the session's CSRF field. The
 * check itself runs in `createConsoleApp`, which passes every state-changing request to the pages
 * through `verifyCsrf` (origin and token) before they see it, so the pages' own `verify` is the
 * next handler.
 */
export const defaultPages: PagesFactory | undefined = (deps) =>
  createPages<ConsoleEnv>({ ...deps, csrf: { field: (c) => csrfField(c), verify: async (_c, next) => next() } });
