/**
 * Reading a mirror request: the shared mount fields (through `readMountRequest`) plus
 * `src_peer`, `src_chan`, optional `dst_chan` and `bundle/{beat_window, max_infl, resume_tok,
 * commit_mode}`. A problem names the field, for `error_note` and the CEI fact.
 */
import { parsePath, type Cell, type Name } from '@cep/cells';
import { isRequestProblem, readMountRequest, readTypedField, requestField, type MountSpec, type RequestProblem } from '@cep/transport';
import { parseToken, type ResumeToken } from './message.ts';

/** How the receiver commits bundles. */
export type CommitMode = 'stream' | 'batch' | 'manual';

/** A valid mirror request. */
export interface MirrorRequest {
  readonly spec: MountSpec;
  readonly deadline: number | undefined;
  readonly srcPeer: string;
  /** Path of the branch on the source, as text (sent to the source) and as names. */
  readonly srcChan: string;
  readonly dstChan: string;
  readonly dst: readonly Name[];
  readonly window: number;
  readonly maxInfl: number;
  readonly commitMode: CommitMode;
  readonly resumeTok: ResumeToken | undefined;
}

const MODES: readonly CommitMode[] = ['stream', 'batch', 'manual'];

function branchPath(field: string, value: string): Name[] | RequestProblem {
  if (!value.startsWith('/')) return { field, note: `${field}: ${JSON.stringify(value)} is not an absolute path (start it with /)` };
  try {
    const names = parsePath(value);
    if (names.length === 0) return { field, note: `${field}: the root cannot be mirrored; name a branch under it` };
    return names;
  } catch (error) {
    return { field, note: `${field}: ${(error as Error).message}` };
  }
}

/** Reads and checks a mirror request. `mode` is the mount mode mirrors use. */
export function readMirrorRequest(request: Cell, mode: string, localNode: string | undefined): MirrorRequest | RequestProblem {
  if (request.kind !== 'dictionary') return { field: '.', note: 'a mirror request is a dictionary' };
  const mount = readMountRequest(request, { mode, ...(localNode !== undefined ? { localNode } : {}) });
  if (isRequestProblem(mount)) return mount;
  if (mount.spec.mode !== mode)
    return { field: 'mode', note: `mode: mirror requests use mode ${JSON.stringify(mode)}, not ${JSON.stringify(mount.spec.mode)}` };
  const text = (path: string, required: boolean): string | RequestProblem | undefined => {
    const v = readTypedField(request, path, 'text');
    if (isRequestProblem(v)) return v;
    if (v === undefined) return required ? { field: path, note: `${path}: missing` } : undefined;
    return v.value as string;
  };
  const count = (path: string, fallback: number): number | RequestProblem => {
    const v = readTypedField(request, path, 'u64');
    if (isRequestProblem(v)) return v;
    if (v === undefined) return fallback;
    const n = v.value as bigint;
    if (n < 1n || n > 1_000_000n) return { field: path, note: `${path}: must be between 1 and 1000000, got ${n}` };
    return Number(n);
  };
  const srcPeer = text('src_peer', true);
  if (isRequestProblem(srcPeer)) return srcPeer;
  if (srcPeer !== mount.spec.peer) {
    return {
      field: 'src_peer',
      note: `src_peer: ${JSON.stringify(srcPeer)} differs from peer ${JSON.stringify(mount.spec.peer)}; a mirror reads from the peer it mounts (no relays)`,
    };
  }
  const srcChan = text('src_chan', true);
  if (isRequestProblem(srcChan)) return srcChan;
  const src = branchPath('src_chan', srcChan as string);
  if (isRequestProblem(src)) return src;
  const dstText = text('dst_chan', false);
  if (isRequestProblem(dstText)) return dstText;
  const dstChan = (dstText as string | undefined) ?? (srcChan as string);
  const dst = branchPath(dstText === undefined ? 'src_chan' : 'dst_chan', dstChan);
  if (isRequestProblem(dst)) return dst;
  const bundle = requestField(request, 'bundle');
  if (bundle !== undefined && bundle.kind !== 'dictionary') return { field: 'bundle', note: `bundle: expected a dictionary, found ${bundle.kind}` };
  const window = count('bundle/beat_window', 1);
  if (isRequestProblem(window)) return window;
  const maxInfl = count('bundle/max_infl', 1);
  if (isRequestProblem(maxInfl)) return maxInfl;
  const modeText = text('bundle/commit_mode', false);
  if (isRequestProblem(modeText)) return modeText;
  const commitMode = (modeText ?? 'stream') as CommitMode;
  if (!MODES.includes(commitMode))
    return { field: 'bundle/commit_mode', note: `bundle/commit_mode: ${JSON.stringify(modeText)} is not one of ${MODES.join(', ')}` };
  const tokText = text('bundle/resume_tok', false);
  if (isRequestProblem(tokText)) return tokText;
  const resumeTok = parseToken((tokText as string | undefined) ?? '');
  if (typeof resumeTok === 'string') return { field: 'bundle/resume_tok', note: `bundle/resume_tok: ${resumeTok}` };
  // As the reference does: a mirror without required caps asks for a reliable, ordered mount.
  const spec: MountSpec =
    (mount.spec.caps?.required?.length ?? 0) > 0 ? mount.spec : { ...mount.spec, caps: { ...mount.spec.caps, required: ['ordered', 'reliable'] } };
  return {
    spec,
    deadline: mount.deadline,
    srcPeer: srcPeer as string,
    srcChan: srcChan as string,
    dstChan,
    dst,
    window: window as number,
    maxInfl: maxInfl as number,
    commitMode,
    resumeTok,
  };
}
