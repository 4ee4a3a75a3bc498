export { buildDemoDeliveries, loadWebhookExamples, type DemoDelivery } from './demo-deliveries.ts';
export { runDemo, type DemoResult, type DemoRow } from './demo.ts';
export { renderTable } from './table.ts';
export { createGithubAppSetup, type CreatedApp, type GithubAppSetupOptions } from './github-app/setup-app.ts';
export { APP_EVENTS, APP_PERMISSIONS, buildAppManifest } from './github-app/manifest.ts';
