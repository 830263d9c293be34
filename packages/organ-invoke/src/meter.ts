/**
 * Measuring a handler's run, at the edge. The numbers never steer the beat they were taken
 * in: they enter the runtime as a recorded input (`inv.usage`), admitted at the next capture,
 * where `cpu_ns` and `wall_ms` are charged to the call's ledger and checked against its
 * budgets. A replay admits the same logged numbers, so it decides the same.
 */
import { isInvokeId } from '@cep/security';

/** The input kind that carries a handler's measured usage. */
export const USAGE_INPUT = 'inv.usage';

/** Starts a measurement; the function it returns ends it. */
export interface UsageMeter {
  start(): () => { readonly cpuNs: number; readonly wallMs: number };
}

/**
 * The process meter: CPU time (`process.cpuUsage`, user + system, of the whole process while
 * the synchronous handler runs) and wall time (`performance.now`), rounded to whole ns and ms.
 */
export const processMeter: UsageMeter = {
  start() {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    return () => {
      const used = process.cpuUsage(cpu);
      return { cpuNs: (used.user + used.system) * 1000, wallMs: Math.round(performance.now() - wall) };
    };
  },
};

/** One measurement as recorded. */
export interface Measured {
  readonly id: string;
  readonly cpuNs: number;
  readonly wallMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMeasured(m: Measured): Uint8Array {
  return encoder.encode(JSON.stringify({ id: m.id, cpuNs: m.cpuNs, wallMs: m.wallMs }));
}

/** The measurement, or undefined when the bytes are not one (a damaged log entry). */
export function decodeMeasured(data: Uint8Array): Measured | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  const m = raw as Partial<Measured> | null;
  const whole = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (m === null || typeof m !== 'object' || !isInvokeId(m.id) || !whole(m.cpuNs) || !whole(m.wallMs)) return undefined;
  return { id: m.id, cpuNs: m.cpuNs, wallMs: m.wallMs };
}

/** True when a budget on measured usage applies (then a call's reply waits for its measurement). */
export function metered(budgets: { readonly cpuNs?: number; readonly wallMs?: number } | undefined): boolean {
  return budgets?.cpuNs !== undefined || budgets?.wallMs !== undefined;
}
