/** The injected logger: each channel logs through a child scoped to its provider, peer and mount. */
import { describe, expect, it } from 'vitest';
import type { ProviderLogger } from '@cep/provider-spec';
import { pair } from './util.ts';

type Line = { level: string; fields: Record<string, unknown>; message: string };

function recorder(lines: Line[], bindings: Record<string, unknown> = {}): ProviderLogger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      lines.push({ level, fields: { ...bindings, ...fields }, message });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => recorder(lines, { ...bindings, ...more }) };
}

describe('logger', () => {
  it('logs a close on both ends, each scoped to its own channel', async () => {
    const lines: Line[] = [];
    const { local } = await pair({ logger: recorder(lines) }, undefined, 'telemetry');
    await local.close('done');
    expect(lines).toEqual([
      { level: 'debug', fields: { provider: 'memory', peer: 'saturn', mount: 'telemetry', reason: 'done' }, message: 'channel closed' },
      { level: 'debug', fields: { provider: 'memory', peer: 'earth', mount: 'telemetry', reason: 'remote closed: done' }, message: 'channel closed' },
    ]);
  });
});
