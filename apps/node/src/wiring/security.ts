/**
 * Wiring of the security policy: the config's `security` section is declared under
 * `/sys/security` (@cep/security's `declarePolicy`) and the pipelines listed in
 * `security.approve` are approved, before the first beat, so the invoke organ's checks on
 * both sides of every call read it from the tree.
 *
 * An absent or empty section declares nothing, and @cep/security then decides on an empty
 * policy: calls inside one enclave are allowed, every cross-enclave call is denied.
 */
import { formatName, parsePath } from '@cep/cells';
import { approvePipeline, declarePolicy } from '@cep/security';
import { RESERVED_BRANCHES, declaresPolicy } from '../config/schema.ts';
import { nodeError } from '../errors.ts';
import { enclaveOfPeer } from '../config/peer-policy.ts';
import type { PeerContext } from './context.ts';

/** What the security wiring reports back. */
export interface SecurityHandle {
  /** True when a policy was written under `/sys/security`. */
  readonly declared: boolean;
  /** The pipelines approved at start. */
  readonly approved: readonly string[];
}

/**
 * The enclave of `peer` as this peer's config states it: `peers[].enclave` (else this peer's
 * own) for a listed peer, `peer_policy.default_enclave` for any other, else none — and the
 * invoke organ denies every call with a peer of no enclave.
 */
export function enclaveOf(config: PeerContext['config'], peer: string): string | undefined {
  return enclaveOfPeer(config, peer);
}

/** The names of `path` as text, or undefined when it is not a valid cell path. */
function segments(path: string): string[] | undefined {
  try {
    return parsePath(path).map(formatName);
  } catch {
    return undefined;
  }
}

function within(path: readonly string[], branch: readonly string[]): boolean {
  return branch.length <= path.length && branch.every((name, i) => name === path[i]);
}

/**
 * Which branches mirrors may touch on this peer, checked at run time by the mirror organ
 * (the config loader has refused the same things already, so these only ever refuse what a
 * remote peer asks for, or a request written into the tree by something other than the config):
 *
 *   - `canPublish`: a remote may mirror `path` from us only when it is inside a branch of
 *     `exports` (absent: anywhere) and never inside a reserved branch (`/sys`, `/net`,
 *     `/journal`, `/rt`). A refusal reaches the requester as the source's reject.
 *   - `canReceive`: no mirror writes into a reserved branch.
 */
export function mirrorAccess(config: PeerContext['config']): { canPublish: (peer: string, path: string) => boolean; canReceive: (path: string) => boolean } {
  const reserved = RESERVED_BRANCHES.map((b) => segments(b)!);
  const exported = config.exports?.map((b) => segments(b)).filter((b): b is string[] => b !== undefined);
  const isReserved = (names: readonly string[]): boolean => reserved.some((b) => within(names, b));
  return {
    canPublish: (_peer, path) => {
      const names = segments(path);
      if (names === undefined || names.length === 0 || isReserved(names)) return false;
      return exported === undefined || exported.some((b) => within(names, b));
    },
    canReceive: (path) => {
      const names = segments(path);
      return names !== undefined && names.length > 0 && !isReserved(names);
    },
  };
}

/** Declares the config's policy and approves its `approve` list (the config loader has checked both). */
export function wireSecurity(ctx: PeerContext): SecurityHandle {
  const { config, runtime, log } = ctx;
  const security = config.security;
  if (!declaresPolicy(security)) {
    log.debug({ enclave: config.enclave }, 'no security policy: calls inside the enclave are allowed, cross-enclave calls denied');
    return { declared: false, approved: [] };
  }
  declarePolicy(runtime.tree, security);
  for (const id of security.approve) {
    const approval = approvePipeline(runtime.tree, id);
    // The loader approved the same spec under the same policy, so this holds unless the tree was not fresh.
    if (approval.state !== 'approved') {
      throw nodeError('START_FAILED', `security.approve: pipeline "${id}" was not approved: ${approval.note}`, { pipeline: id });
    }
  }
  log.info(
    {
      enclave: config.enclave,
      enclaves: Object.keys(security.enclaves ?? {}),
      edges: (security.edges ?? []).map((e) => `${e.from}->${e.to}`),
      pipelines: (security.pipelines ?? []).map((p) => p.id),
      approved: security.approve,
    },
    'security policy declared',
  );
  return { declared: true, approved: security.approve };
}
