import type { PagesFactory } from './main.ts';

/**
 * The pages `startConsole` mounts at `/` unless told otherwise: none yet. When
 * `apps/console/src/pages/index.ts` lands, this line becomes
 * `export { createPages as defaultPages } from './pages/index.ts';` (the one place that names it).
 */
export const defaultPages: PagesFactory | undefined = undefined;
