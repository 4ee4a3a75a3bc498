// @pitcrew/console: the operator's console (issue 18): admin API, Bull Board and pages on their own port.
export { createAdminApi, API_PATH, OPENAPI_INFO, type AdminApi, type AdminApiDeps } from './admin-api.ts';
export { createBoard, BOARD_PATH } from './board.ts';
export { createConsoleApp, type ConsoleDeps } from './app.ts';
export { ConsoleEnv } from './env.ts';
export { ConsoleError } from './errors.ts';
export { startConsole, type ConsoleHandle, type PagesDeps, type PagesFactory } from './main.ts';
export {
  createSessions,
  csrfField,
  csrfToken,
  safeNextPath,
  CSRF_FIELD,
  CSRF_HEADER,
  SESSION_COOKIE,
  type ConsoleEnv as ConsoleHonoEnv,
  type Session,
  type SessionOptions,
  type Sessions,
} from './session.ts';
export { createPages, FAILURES_PER_PAGE, type PagesCsrf, type PagesDeps as CreatePagesDeps } from './pages/pages.tsx';
export { replayDelivery, retryFailure, type ReplayResult, type RetryResult } from './actions.ts';
export { APP_EVENTS, APP_PERMISSIONS, buildAppManifest, manifestFormAction, type AppManifest, type ManifestOptions } from './github-app/manifest.ts';
export { createGithubAppSetup, GITHUB_API, webUrlFor, type AppChoice, type CreatedApp, type GithubAppSetup, type GithubAppSetupOptions } from './github-app/setup-app.ts';
export { createGithubAppPage, GITHUB_APP_PATH, type GithubAppPageOptions } from './github-app/page.tsx';
export { formatDotEnvValue, updateDotEnvFile, type DotEnvUpdate } from './github-app/dotenv-update.ts';
