import type { Resolver } from './network-guard.js';

/** Timeouts and the network rule of a read-only session (its own module, so callers need not load pg to name them). */
export interface SessionLimits {
  allowPrivateHosts: boolean;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  /** The server ends a session left idle inside the transaction (e.g. a crashed invocation). */
  idleInTransactionMs: number;
  resolve?: Resolver;
  /** The client waits this much longer than statement_timeout before it gives up on an answer itself. Default 5 s. */
  clientGraceMs?: number;
}

export const defaultSessionLimits: SessionLimits = {
  allowPrivateHosts: false,
  connectTimeoutMs: 10_000,
  statementTimeoutMs: 60_000,
  lockTimeoutMs: 5_000,
  idleInTransactionMs: 120_000,
};
