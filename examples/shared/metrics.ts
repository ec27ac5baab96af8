// Counts tollgate's diagnostics_channel events with prom-client, for both example apps.
// tollgate publishes; the application chooses what to count and where to serve it.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { channels, type Decision, type Store } from '@tollgate/core'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

interface DecisionMessage {
  name: string
  key: string
  decision: Decision
  mode: 'enforce' | 'shadow'
}
interface StoreErrorMessage {
  name: string
  key: string
  error: unknown
}
interface BreakerMessage {
  name: string
  state: 'open' | 'half-open' | 'closed'
}

const BREAKER_STATES = { closed: 0, 'half-open': 1, open: 2 } as const

/** A prom-client registry fed by tollgate's events; `stop()` unsubscribes. */
export function createMetrics() {
  const registry = new Registry()
  const decisions = new Counter({
    name: 'tollgate_decisions_total',
    help: 'Rate-limit decisions by limiter name and outcome (allowed, denied, degraded).',
    labelNames: ['name', 'outcome', 'mode'] as const,
    registers: [registry],
  })
  const storeErrors = new Counter({
    name: 'tollgate_store_errors_total',
    help: 'Failed store calls answered by the fail policy, by limiter name.',
    labelNames: ['name'] as const,
    registers: [registry],
  })
  const storeLatency = new Histogram({
    name: 'tollgate_store_latency_seconds',
    help: 'Seconds a shared store (Redis) took to answer a decision.',
    labelNames: ['op'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers: [registry],
  })
  const breaker = new Gauge({
    name: 'tollgate_breaker_state',
    help: 'Circuit breaker state by limiter name: 0 closed, 1 half-open, 2 open.',
    labelNames: ['name'] as const,
    registers: [registry],
  })

  const onDecision = (message: unknown) => {
    const { name, decision, mode } = message as DecisionMessage
    const outcome =
      decision.degraded === true ? 'degraded' : decision.allowed ? 'allowed' : 'denied'
    decisions.inc({ name, outcome, mode })
  }
  const onStoreError = (message: unknown) => {
    storeErrors.inc({ name: (message as StoreErrorMessage).name })
  }
  const onBreaker = (message: unknown) => {
    const { name, state } = message as BreakerMessage
    breaker.set({ name }, BREAKER_STATES[state])
  }
  subscribe(channels.decision, onDecision)
  subscribe(channels.storeError, onStoreError)
  subscribe(channels.breaker, onBreaker)

  return {
    registry,
    /**
     * The same store, timing each call into the latency histogram. For a shared store only: a
     * MemoryStore answers in-process (and the limiter's synchronous path needs the real one).
     */
    timed<S extends Store>(store: S): Store {
      const time = <T>(op: string, call: () => Promise<T>): Promise<T> => {
        const end = storeLatency.startTimer({ op })
        return call().finally(() => end())
      }
      return {
        clock: store.clock,
        decide: (key, algorithm, cost, options) =>
          time('decide', () => store.decide(key, algorithm, cost, options)),
        peek: (key, algorithm, cost) => time('peek', () => store.peek(key, algorithm, cost)),
        refund: (key, algorithm, cost) => time('refund', () => store.refund(key, algorithm, cost)),
        block: (key, algorithm, ms) => time('block', () => store.block(key, algorithm, ms)),
        release: (key, algorithm, lease) =>
          time('release', () => store.release(key, algorithm, lease)),
        reset: (key, algorithm) => time('reset', () => store.reset(key, algorithm)),
        close: () => store.close?.() ?? Promise.resolve(),
      }
    },
    contentType: registry.contentType,
    text: () => registry.metrics(),
    stop() {
      unsubscribe(channels.decision, onDecision)
      unsubscribe(channels.storeError, onStoreError)
      unsubscribe(channels.breaker, onBreaker)
    },
  }
}

export type Metrics = ReturnType<typeof createMetrics>
