export * from './client.ts';
export * from './errors.ts';
export * from './prices.ts';
export * from './json.ts';
