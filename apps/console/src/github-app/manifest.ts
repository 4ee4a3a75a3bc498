/**
 * The repository permissions pitcrew's GitHub App asks for, and why (GitHub docs, "Choosing
 * permissions for a GitHub App"; each REST endpoint's page names the permission it needs):
 * - `checks: write`: the `check-run` sink creates and updates its check run on the failing commit.
 * - `actions: write`: the classify stage reads the run's jobs and logs (read), and re-runs of
 *   transient failures (`PITCREW_RERUN_REPOS`) re-run a job or a run's failed jobs (write).
 * - `contents: write`: the fix loop pushes its `pitcrew/fix/<id>` branch; `.github/pitcrew.yml`
 *   is read through the contents API.
 * - `pull_requests: write`: fix PRs (open, label, mark ready), the `pr-comment` sink, PR commands.
 * - `issues: write`: incident issues (the `issue` sink) and PR comments (an issue comment), reactions.
 * - `metadata: read`: every App has it (repository metadata, collaborators' permission).
 */
export const APP_PERMISSIONS = {
  checks: 'write',
  actions: 'write',
  contents: 'write',
  pull_requests: 'write',
  issues: 'write',
  metadata: 'read',
} as const;

/**
 * The webhook events pitcrew consumes: the four CI events (`check_run`, `check_suite`,
 * `workflow_job`, `workflow_run`), `pull_request` (fix loop outcomes, resolution), `issue_comment`
 * (`/pitcrew` PR commands) and `push` (a changed `.github/pitcrew.yml`). Each is granted by one of
 * {@link APP_PERMISSIONS}, which GitHub requires of an App's events.
 */
export const APP_EVENTS = ['check_run', 'check_suite', 'workflow_job', 'workflow_run', 'pull_request', 'issue_comment', 'push'] as const;

/** What a manifest is built from. */
export interface ManifestOptions {
  /** The App's name on GitHub (unique on GitHub; the user can change it on GitHub's page). */
  name: string;
  /** Where GitHub delivers webhooks: ingest's `https://HOST/webhooks/github`. */
  webhookUrl: string;
  /** The App's homepage (GitHub requires one); default: the webhook URL's origin. */
  homepageUrl?: string;
  /** Where GitHub sends the browser back with `?code=…&state=…` (the local page's `/callback`). */
  redirectUrl: string;
  /** Whether any account may install the App; default `false` (only the owner's account). */
  public?: boolean;
  /** Whether GitHub delivers webhooks from the start; default `true`. */
  webhookActive?: boolean;
  description?: string;
}

/**
 * A GitHub App manifest (GitHub docs, "Registering a GitHub App from a manifest", "GitHub App
 * manifest parameters"): `name`, `url`, `hook_attributes {url, active}`, `redirect_url`,
 * `public`, `default_permissions` ({@link APP_PERMISSIONS}) and `default_events` ({@link APP_EVENTS}).
 * GitHub generates the webhook secret and the private key; the code exchange returns them.
 *
 * @throws {TypeError} when a URL is not a URL
 */
export function buildAppManifest(options: ManifestOptions) {
  const webhook = new URL(options.webhookUrl);
  new URL(options.redirectUrl);
  return {
    name: options.name,
    url: options.homepageUrl ? new URL(options.homepageUrl).toString() : webhook.origin,
    description: options.description ?? 'pitcrew: CI failures of this account triaged, diagnosed and fixed.',
    hook_attributes: { url: webhook.toString(), active: options.webhookActive ?? true },
    redirect_url: options.redirectUrl,
    public: options.public ?? false,
    default_permissions: { ...APP_PERMISSIONS },
    default_events: [...APP_EVENTS],
  };
}
export type AppManifest = ReturnType<typeof buildAppManifest>;

/**
 * Where the browser POSTs the manifest form: `{githubUrl}/settings/apps/new` (the user's
 * account) or `{githubUrl}/organizations/{org}/settings/apps/new`, with `?state=` (GitHub passes
 * it back on the redirect). `githubUrl` is `https://github.com`, or a GitHub Enterprise Server's
 * web URL (`https://HOST`).
 */
export function manifestFormAction(githubUrl: string, state: string, org?: string): string {
  const base = githubUrl.replace(/\/+$/, '');
  const url = new URL(`${base}${org ? `/organizations/${encodeURIComponent(org)}` : ''}/settings/apps/new`);
  url.searchParams.set('state', state);
  return url.toString();
}
