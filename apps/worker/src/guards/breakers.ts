import { circuitBreaker, ConsecutiveBreaker, handleAll, CircuitState, type CircuitBreakerPolicy } from 'cockatiel';

/** Options of the per-runner circuit breakers. */
export interface BreakerOptions {
  /** Consecutive failures that open a runner's circuit. */
  threshold: number;
  /** ms the circuit stays open before one trial call (half-open). */
  cooldownMs: number;
  onStateChange?: (runner: string, state: BreakerState) => void;
}

export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** One cockatiel circuit breaker per runner name, created on first use (per process). */
export interface Breakers {
  get(runner: string): CircuitBreakerPolicy;
  /** Every runner's state, for the admin API and metrics. */
  states(): Record<string, BreakerState>;
}

/**
 * Circuit breakers per runner (cockatiel `ConsecutiveBreaker`): after `threshold` consecutive
 * failures a runner is bypassed for `cooldownMs`, then one call is let through; its success
 * closes the circuit, its failure opens it again. Callers catch cockatiel's `BrokenCircuitError`
 * and fall back to the rules runner. State is per process: each worker host learns on its own.
 */
export function createBreakers(options: BreakerOptions): Breakers {
  const policies = new Map<string, CircuitBreakerPolicy>();
  return {
    get(runner) {
      let policy = policies.get(runner);
      if (!policy) {
        policy = circuitBreaker(handleAll, {
          halfOpenAfter: options.cooldownMs,
          breaker: new ConsecutiveBreaker(options.threshold),
        });
        policy.onStateChange((state) => options.onStateChange?.(runner, STATE_NAMES[state]));
        policies.set(runner, policy);
      }
      return policy;
    },
    states() {
      return Object.fromEntries([...policies].map(([name, p]) => [name, STATE_NAMES[p.state]]));
    },
  };
}
