import { describe } from 'vitest';
import { registerAuthentication } from './auth.ts';
import { registerBackpressure } from './backpressure.ts';
import { complianceTest, type SuiteContext } from './context.ts';
import { registerDialers } from './dialers.ts';
import { registerFrames } from './frames.ts';
import { registerLifecycle } from './lifecycle.ts';
import { registerSessions } from './sessions.ts';
import type { ComplianceOptions } from './types.ts';

/**
 * Registers the CEP provider compliance tests (vitest `describe`/`it`) for one provider.
 * Call it at the top level of a test file. Each test takes what it needs from its vitest test
 * context (a fresh `setup()` per pair) and closes all of it when it ends. One file per concern:
 * lifecycle, frames, backpressure, several dialers, sessions, authentication.
 */
export function providerComplianceTests(options: ComplianceOptions): void {
  const ms = options.timeoutMs ?? 5000;
  const reliable = options.profile === 'reliable';
  const ctx: SuiteContext = { options, ms, reliable, test: complianceTest(options, ms) };

  describe(`${options.name} provider compliance (${options.profile})`, () => {
    describe('lifecycle', () => registerLifecycle(ctx));
    describe('frames', () => registerFrames(ctx));
    describe('backpressure', () => registerBackpressure(ctx));
    describe('several dialers', () => registerDialers(ctx));
    if (options.sessions !== undefined) {
      const sessions = options.sessions;
      describe('sessions', () => registerSessions(ctx, sessions));
    }
    registerAuthentication(ctx);
  });
}
