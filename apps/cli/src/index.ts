export { buildDemoDeliveries, loadWebhookExamples, type DemoDelivery } from './demo-deliveries.ts';
export { runDemo, type DemoResult, type DemoRow } from './demo.ts';
export { renderTable } from './table.ts';
// The GitHub App manifest flow lives in the console (its page and this CLI's command share it).
export { APP_EVENTS, APP_PERMISSIONS, buildAppManifest, createGithubAppSetup, type CreatedApp, type GithubAppSetupOptions } from '@pitcrew/console';
