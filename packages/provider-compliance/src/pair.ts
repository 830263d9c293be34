import type { ChannelV1, ListenerV1, RejectionV1 } from '@cep/provider-spec';
import type { ComplianceEnv, ComplianceOptions } from './types.ts';

/** One test's providers: the listener listening, what it accepted and refused. */
export interface Pair {
  readonly env: ComplianceEnv;
  readonly listener: ListenerV1;
  /** Channels the listener handed to `onChannel`, in order. */
  readonly accepted: ChannelV1[];
  /** What the listener told `onReject`, in order. */
  readonly rejections: RejectionV1[];
  /** Opens `mount` from the dialer (to the listener, or through `address`) and waits for the listener's side. */
  open(mount: string, address?: string): Promise<{ local: ChannelV1; remote: ChannelV1 }>;
}

/** What the suite's sections share. */
export interface SuiteContext {
  readonly options: ComplianceOptions;
  /** Bound on every wait, in ms. */
  readonly ms: number;
  readonly reliable: boolean;
  /** A fresh pair for this test (closed after it). */
  pair(): Promise<Pair>;
  /** Runs `step` after this test, before the pair is closed (intruders, taps). */
  release(step: () => Promise<unknown>): void;
}
