/**
 * Wiring of the organs: link, mirror and invoke over the peer's transport manager, the
 * config's invoke handlers exposed as `/sig/<name>`, and the config's requests written into
 * the tree (organs registered first, so their validators see the requests created).
 */
import { u64 } from '@cep/cells';
import type { TransportManager } from '@cep/transport';
import { installLink, type LinkOrgan } from '@cep/organ-link';
import { installMirror, type MirrorOrgan } from '@cep/organ-mirror';
import { OUTCOME_CODE, installInvoke, type InvokeOrgan, type InvokeOutcome, type PipelineInput } from '@cep/organ-invoke';
import { isCepError } from '@cep/errors';
import { deferWork } from '../defer.ts';
import { nodeError } from '../errors.ts';
import type { PeerContext } from './context.ts';
import { requestId, writeRequests } from './requests.ts';
import { enclaveOf, mirrorAccess } from './security.ts';

/** What a call may add to the handler name and argument. */
export interface CallOptions {
  /** Pipeline metadata (a cross-enclave call needs it, naming a stage of an approved pipeline). */
  readonly pipeline?: PipelineInput;
  /** Beats to wait for the reply (default: the config's `invoke_timeout_beats`). */
  readonly timeoutBeats?: number;
}

/** Who hears of finished invokes and applied bundles (the peer's metrics, made after the organs). */
export interface OrganObservers {
  /** An invoke this peer made ended: beats from submit to outcome, and wall seconds (observation only). */
  readonly onInvokeEnded?: (call: {
    readonly peer: string;
    readonly status: InvokeOutcome['status'];
    readonly beats: number;
    readonly seconds: number;
  }) => void;
  /** A mirror bundle was applied to this peer's tree. */
  readonly onBundleApplied?: (bundle: { readonly request: string; readonly cells: number; readonly seconds?: number | undefined }) => void;
}

/** What the organ wiring reports back. */
export interface OrgansHandle {
  readonly wired: boolean;
  readonly requests: { readonly link: number; readonly mirror: number; readonly invoke: number };
  readonly link: LinkOrgan;
  readonly mirror: MirrorOrgan;
  readonly invoke: InvokeOrgan;
  /** Applies the bundles mirror `name` (from the config) holds, at the next beat. */
  commitMirror(name: string): 'ok' | 'unknown' | 'not-ready';
  /** Invokes handler `name` on `peer` with an optional u64 argument; settles with the outcome. */
  call(peer: string, name: string, argument: bigint | undefined, options?: CallOptions): Promise<InvokeOutcome>;
}

/** The signal a handler named `name` in the config answers to. */
export function handlerSignal(name: string): string {
  return `/sig/${name}`;
}

/** Registers the organs and writes the config's link, mirror and invoke requests. */
export async function wireOrgans(ctx: PeerContext, manager: TransportManager, observers: OrganObservers = {}): Promise<OrgansHandle> {
  const { config, runtime, log } = ctx;
  const link = installLink(runtime, manager);
  // Only exported branches are served, and no mirror writes into a reserved branch (wiring/security.ts).
  const mirror = installMirror(runtime, manager, {
    localNode: config.peer,
    maxInflight: config.limits.mirror_max_infl,
    maxBeatWindow: config.limits.mirror_max_window,
    ...mirrorAccess(config),
    onApply: (event) => observers.onBundleApplied?.({ request: event.id, cells: event.cells, seconds: event.seconds }),
    // Times each bundle's apply for the metrics' histogram; the organ decides nothing with it.
    observeClock: () => performance.now() / 1000,
  });
  // Both sides of every call are checked on this peer's policy (/sys/security) with the enclaves the
  // config gives; only the handlers the config lists can be called (anything else: tp_inv_reject).
  const invoke = installInvoke(runtime, manager, {
    enclave: config.enclave,
    peerEnclave: (peer) => enclaveOf(config, peer),
    exposedOnly: true,
    // Calls carry an expiry (the beat period bounds how soon this peer can give up), so a callee
    // that was paused past it refuses them instead of running them late.
    beatMs: config.beat_ms,
    clockSkewMs: config.clock_skew_ms,
    // POST /invoke submits between beats: recorded as inputs, so this peer's calls replay from its log.
    recordSubmissions: true,
  });
  for (const { name, handler } of ctx.handlers) {
    const signal = handlerSignal(name);
    invoke.expose(signal, (call) => handler.run({ ...call, defer: (step) => void deferWork(runtime, signal, step) }));
  }
  ctx.onShutdown('organs', () => {
    invoke.uninstall();
    mirror.uninstall();
  });
  const requests = writeRequests(runtime.tree, config);
  log.info({ ...requests, handlers: ctx.handlers.map((h) => h.name) }, 'organs wired');
  const call = (peer: string, name: string, argument: bigint | undefined, options: CallOptions = {}): Promise<InvokeOutcome> => {
    if (!config.peers.some((p) => p.name === peer)) {
      return Promise.reject(nodeError('UNKNOWN_PEER', `peer "${peer}" is not listed under peers in the config`, { peer }));
    }
    let id: string;
    const submitted = { beat: runtime.beat, at: performance.now() };
    try {
      id = invoke.submit({
        request: peer,
        signal: handlerSignal(name),
        ...(argument === undefined ? {} : { payload: u64(argument) }),
        ...(options.pipeline !== undefined ? { pipeline: options.pipeline } : {}),
        timeoutBeats: options.timeoutBeats ?? config.invoke_timeout_beats,
      });
    } catch (error) {
      if (isCepError(error, 'INVOKE_DRAINING'))
        return Promise.reject(
          nodeError('SHUTTING_DOWN', 'this peer is shutting down and takes no new invokes; try another peer or again after it restarts', { peer }),
        );
      return Promise.reject(error);
    }
    return invoke.result(id).then((outcome) => {
      observers.onInvokeEnded?.({ peer, status: outcome.status, beats: outcome.beat - submitted.beat, seconds: (performance.now() - submitted.at) / 1000 });
      // Given up by this peer's own stop: an error (HTTP 503), never a result that looks final.
      if (outcome.code === OUTCOME_CODE.callerShutdown) {
        throw nodeError(
          'SHUTTING_DOWN',
          `invoke ${outcome.id} was still waiting for ${peer} when this peer's shutdown drain ran out; it may have run there (retry with care: see the README)`,
          { peer, id: outcome.id },
        );
      }
      return outcome;
    });
  };
  const commitMirror = (name: string): 'ok' | 'unknown' | 'not-ready' => {
    const index = config.mirrors.findIndex((m) => m.name === name);
    if (index < 0) return 'unknown';
    try {
      mirror.commit(requestId(index));
      return 'ok';
    } catch (error) {
      if (isCepError(error, 'MIRROR_NOT_FOUND')) return 'not-ready'; // not validated yet (before the first beat)
      throw error;
    }
  };
  return { wired: true, requests, link, mirror, invoke, call, commitMirror };
}
