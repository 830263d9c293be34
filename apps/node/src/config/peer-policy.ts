/**
 * The config's `peer_policy` section: who may reach this peer and how strictly AEAD holds.
 *
 *   peer_policy:
 *     default_enclave: guests     # a keyed peer not listed under peers lands here; absent: refused
 *     aead:                       # per peer: required (default whenever a key exists) | optional
 *       saturn: optional
 *
 * Kept apart from `peers` because it speaks about peers this one does not dial as well.
 */
import { explainNotWord } from '@cep/cells';
import * as z from 'zod';

const word = z.string().superRefine((value, ctx) => {
  const why = explainNotWord(value);
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a CEP word: ${why}` });
});

/** How strictly a keyed peer's mounts keep AEAD. */
export const AEAD_MODES = ['required', 'optional'] as const;

/** The schema of `peer_policy`. */
export const peerPolicySection = z
  .strictObject({
    /**
     * The enclave of a keyed peer that is not listed under `peers`. It has no edges unless
     * `security` declares them. Absent: such a peer is refused at the door (its key is not given
     * to the providers, so its handshake fails and the listener records the refusal).
     */
    default_enclave: word.optional(),
    /** Per peer: `optional` lets a mount run without AEAD (told at warn, recorded under serializer/). */
    aead: z.record(word, z.enum(AEAD_MODES)).default({}),
  })
  .default({ aead: {} });

/** The parsed `peer_policy` section. */
export type PeerPolicyConfig = z.output<typeof peerPolicySection>;

/** What the admission rules need of a config. */
interface Admission {
  readonly enclave: string;
  readonly peers: readonly { readonly name: string; readonly enclave?: string | undefined }[];
  readonly peer_policy: PeerPolicyConfig;
}

/** The enclave of `peer`: its `peers[]` entry (else ours), else `default_enclave`, else none (refused). */
export function enclaveOfPeer(config: Admission, peer: string): string | undefined {
  const listed = config.peers.find((p) => p.name === peer);
  if (listed !== undefined) return listed.enclave ?? config.enclave;
  return config.peer_policy.default_enclave;
}

/** Whether a keyed `peer` may link to this one at all: listed under `peers`, or a `default_enclave` exists. */
export function admitsPeer(config: Admission, peer: string): boolean {
  return enclaveOfPeer(config, peer) !== undefined;
}

/** Whether `peer`'s mounts may run without AEAD (`peer_policy.aead.<peer>: optional`). */
export function aeadOptional(config: Admission, peer: string): boolean {
  return config.peer_policy.aead[peer] === 'optional';
}
