/** jitteredBackoff: the bounds of each delay, the cap, the injected random source, bad options. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jitteredBackoff, loggedRejects, silentLogger, type ProviderLogger } from '@cep/provider-spec';

describe('jitteredBackoff', () => {
  it('waits between half and all of the doubled base, capped at maxMs, for any random value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
        const delay = jitteredBackoff({ initialMs: 100, maxMs: 5000, random: () => r })(attempt);
        const base = Math.min(5000, 100 * 2 ** (attempt - 1));
        expect(delay).toBeGreaterThanOrEqual(base / 2);
        expect(delay).toBeLessThanOrEqual(base);
        expect(Number.isInteger(delay)).toBe(true);
      }),
    );
  });

  it('follows the random source: its lowest value gives half the base, near 1 gives (almost) the base', () => {
    expect([1, 2, 3, 8].map(jitteredBackoff({ initialMs: 10, maxMs: 25, random: () => 0 }))).toEqual([5, 10, 13, 13]);
    expect([1, 2, 3, 8].map(jitteredBackoff({ initialMs: 10, maxMs: 25, random: () => 0.999999 }))).toEqual([10, 20, 25, 25]);
  });

  it('spreads the delays of dialers that lost the same listener', () => {
    let seed = 1;
    // A small deterministic generator, so the test does not depend on Math.random.
    const random = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const delay = jitteredBackoff({ initialMs: 1000, maxMs: 1000, random });
    const delays = new Set(Array.from({ length: 20 }, () => delay(1)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('refuses bad bounds with INVALID_OPTIONS', () => {
    for (const options of [
      { initialMs: 0, maxMs: 10 },
      { initialMs: 1.5, maxMs: 10 },
      { initialMs: 10, maxMs: 5 },
      { initialMs: 10, maxMs: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => jitteredBackoff(options), JSON.stringify(options)).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
    }
  });
});

describe('silentLogger', () => {
  it('accepts every call and its children are silent too', () => {
    const child = silentLogger.child({ peer: 'saturn' });
    expect(child).toBe(silentLogger);
    expect(() => child.warn({ attempt: 1 }, 'reconnecting')).not.toThrow();
  });
});

describe('loggedRejects', () => {
  it("logs each refusal at debug, then calls the caller's onReject with the same info", () => {
    const lines: Array<[string, Record<string, unknown>, string]> = [];
    const logger: ProviderLogger = {
      debug: (fields, message) => lines.push(['debug', fields, message]),
      info: (fields, message) => lines.push(['info', fields, message]),
      warn: (fields, message) => lines.push(['warn', fields, message]),
      error: (fields, message) => lines.push(['error', fields, message]),
      child: () => logger,
    };
    const seen: unknown[] = [];
    const run = loggedRejects<{ peer: string; code: string }>(logger, (info) => seen.push(info));
    expect(run.logger).toBe(logger);
    run.onReject({ peer: 'mallory', code: 'AUTH_FAILED' });
    expect(lines).toEqual([['debug', { peer: 'mallory', code: 'AUTH_FAILED' }, 'refused']]);
    expect(seen).toEqual([{ peer: 'mallory', code: 'AUTH_FAILED' }]);
  });

  it('without options: the silent logger and an onReject that does nothing', () => {
    const run = loggedRejects();
    expect(run.logger).toBe(silentLogger);
    expect(() => run.onReject({ peer: 'x' })).not.toThrow();
  });
});
