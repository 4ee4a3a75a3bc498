export { buildDemoDeliveries, loadWebhookExamples, type DemoDelivery } from './demo-deliveries.ts';
export { runDemo, type DemoResult, type DemoRow } from './demo.ts';
export { renderTable } from './table.ts';
