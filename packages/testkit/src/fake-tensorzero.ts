import { startFakeLlm, type FakeLlm, type FakeLlmOptions, type FakeTensorZeroOptions } from './fake-llm.ts';

export { PITCREW_TENSORZERO_METRICS, type FakeTensorZeroMetric, type FakeTensorZeroOptions } from './fake-llm.ts';

/**
 * A fake TensorZero gateway for tests: the fake LLM in TensorZero mode (its OpenAI-compatible
 * endpoint at `url` = `<gatewayUrl>/openai/v1`, `POST <gatewayUrl>/feedback`); see
 * {@link FakeTensorZeroOptions}. Real HTTP, as the gateway speaks it.
 */
export function startFakeTensorZero(options: Omit<FakeLlmOptions, 'tensorzero'> & FakeTensorZeroOptions = {}): Promise<FakeLlm> {
  const { metrics, ...rest } = options;
  return startFakeLlm({ ...rest, tensorzero: metrics ? { metrics } : {} });
}
