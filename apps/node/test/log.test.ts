import { describe, expect, it } from 'vitest';
import { stripVTControlCharacters } from 'node:util';
import { createLogger } from '../src/log.ts';

function capture() {
  const chunks: string[] = [];
  return { destination: { write: (s: string) => void chunks.push(s) }, text: () => chunks.join('') };
}

describe('the logger', () => {
  it('writes one JSON object a line when not on a terminal', () => {
    const out = capture();
    const log = createLogger({ level: 'info', destination: out.destination, isTTY: false, base: { peer: 'earth' } });
    log.info({ beat: 3 }, 'peer started');
    log.debug('hidden below the level');
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, peer: 'earth', beat: 3, msg: 'peer started' });
    expect(JSON.parse(lines[0]!)['time']).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes single human-readable lines when on a terminal or asked to', () => {
    for (const options of [{ isTTY: true }, { isTTY: false, format: 'pretty' as const }]) {
      const out = capture();
      const log = createLogger({ level: 'info', destination: out.destination, base: { peer: 'earth' }, ...options });
      log.warn({ beat: 3 }, 'beat overran its slot');
      const text = stripVTControlCharacters(out.text());
      expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: beat overran its slot \{.*"peer":"earth".*"beat":3.*\}\n$/);
    }
  });

  it('stays JSON on a terminal when asked for JSON', () => {
    const out = capture();
    createLogger({ level: 'info', destination: out.destination, isTTY: true, format: 'json' }).info('x');
    expect(JSON.parse(out.text())).toMatchObject({ msg: 'x' });
  });
});
