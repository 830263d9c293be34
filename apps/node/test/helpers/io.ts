import { EventEmitter } from 'node:events';
import type { CliDeps } from '../../src/program.ts';

/** Captured output of an in-process CLI run, with a fake signal source. */
export function fakeIo(overrides: Partial<CliDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const signals = new EventEmitter();
  const forced: number[] = [];
  const deps: CliDeps = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    env: {},
    signals: signals as unknown as CliDeps['signals'],
    forceExit: (code) => void forced.push(code),
    logDestination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    isTTY: false,
    ...overrides,
  };
  return {
    deps,
    signals,
    forced,
    logs,
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}

/** A logger-shaped destination collecting parsed JSON lines. */
export function logSink(): { destination: { write(line: string): void }; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { destination: { write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) }, lines };
}
