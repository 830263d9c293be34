import { describe, expect, it } from 'vitest';
import type { EmittedFact } from '@cep/heartbeat';
import { SAMPLE_WINDOW_BEATS, logCeiFacts } from '../src/cei-log.ts';
import { createLogger } from '../src/log.ts';

/** A stand-in for the runtime's CEI: the test raises facts by hand. */
function fakeCei() {
  const listeners = new Set<(fact: EmittedFact) => void>();
  let id = 0;
  return {
    cei: {
      onFact(listener: (fact: EmittedFact) => void) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    },
    raise(origin: string, beat: number): void {
      id += 1;
      const fact = { id: `msg-${id}`, topic: 'tp_fatal', severity: 'warn', origin, beat, note: `fact ${id}` } as unknown as EmittedFact;
      for (const l of listeners) l(fact);
    },
  };
}

function logLines() {
  const chunks: string[] = [];
  const log = createLogger({ level: 'info', isTTY: false, destination: { write: (s: string) => void chunks.push(s) } });
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('CEI facts in the log', () => {
  it('logs every fact of an ordinary origin', () => {
    const { log, lines } = logLines();
    const cei = fakeCei();
    logCeiFacts(cei as never, log);
    for (let i = 0; i < 50; i++) cei.raise('transport', 1);
    expect(lines()).toHaveLength(50);
  });

  it('samples listener refusals: one line per window, each saying how many were left out', () => {
    const { log, lines } = logLines();
    const cei = fakeCei();
    const stop = logCeiFacts(cei as never, log);
    // 1000 refusals in each of three windows.
    for (let w = 0; w < 3; w++) for (let i = 0; i < 1000; i++) cei.raise('tp/listen', w * SAMPLE_WINDOW_BEATS + (i % SAMPLE_WINDOW_BEATS));
    expect(lines().map((l) => l['suppressed'])).toEqual([0, 999, 999]);
    stop();
    // The last window's count is not lost at shutdown.
    expect(lines().map((l) => l['suppressed'])).toEqual([0, 999, 999, 998]);
    expect(lines().every((l) => l['origin'] === 'tp/listen' && l['msg'] === 'cei fact')).toBe(true);
  });
});
