/**
 * The mirror protocol's messages. Each is one branch frame whose root dictionary is named
 * `mirror` and has a `kind`:
 *
 *   receiver → source   sub    {src_chan, beat_window, max_infl, [epoch, seq, [restarted]], [packed]}
 *                              (restarted: the source is a new process since the token's welcome;
 *                              packed: ops may carry their content as `vb`, see compact.ts)
 *                       ack    {epoch, seq}                 (cumulative: every bundle ≤ seq is applied)
 *                       got    {epoch, seq, part}           (parts 1..part of bundle seq are staged: the source may send more)
 *                       unsub  {}
 *                       joined {group}                    (fan-out: subscribed to the group, frames sent to it now reach us)
 *   source → receiver   welcome {epoch, resumed}
 *                       bundle {epoch, seq, part, parts, first_beat, last_beat, ops: list of op}
 *                              (parts = 0 on every part but the last, which names the count)
 *                       reject {note}
 *                       gkey   {group, key}               (fan-out: join this group, open its frames with this key)
 *
 * Reading never throws: a malformed message becomes a note (the organ reports it as `tp_schema`).
 */
import { bool, bytes, name, text, u64, type Name, type Value } from '@cep/cells';
import type { StagedCell } from '@cep/serializer';
import { unpackCell } from './compact-read.ts';
import { frozenDict, frozenList, frozenValue, type FrozenCell } from './frozen.ts';

/** A resume token: the source epoch and the last bundle applied in it. */
export interface ResumeToken {
  readonly epoch: string;
  readonly seq: number;
}

/** Messages as the organ handles them. */
export type Message =
  | {
      readonly kind: 'sub';
      readonly src: string;
      readonly window: number;
      readonly maxInfl: number;
      readonly token: ResumeToken | undefined;
      /**
       * The receiver saw the source's peer come back as a new session since the token's welcome:
       * the token can only name an epoch the source kept in its durable tree, never one it made since.
       */
      readonly restarted?: boolean;
      /** The receiver reads op content in the packed form (`vb`, see `compact.ts`); absent from older receivers. */
      readonly packed?: boolean;
    }
  | { readonly kind: 'ack'; readonly epoch: string; readonly seq: number }
  | { readonly kind: 'got'; readonly epoch: string; readonly seq: number; readonly part: number }
  | { readonly kind: 'unsub' }
  | { readonly kind: 'welcome'; readonly epoch: string; readonly resumed: boolean }
  | {
      readonly kind: 'bundle';
      readonly epoch: string;
      readonly seq: number;
      readonly part: number;
      readonly parts: number;
      readonly firstBeat: number;
      readonly lastBeat: number;
      readonly ops: readonly StagedCell[];
    }
  | { readonly kind: 'reject'; readonly note: string }
  | { readonly kind: 'gkey'; readonly group: string; readonly key: Uint8Array }
  | { readonly kind: 'joined'; readonly group: string };

const ROOT = 'mirror';

function envelope(kind: string, fields: FrozenCell[]): FrozenCell {
  return frozenDict(ROOT, [frozenValue('kind', text(kind)), ...fields]);
}

const n64 = (field: string, value: number): FrozenCell => frozenValue(field, u64(BigInt(value)));
const str = (field: string, value: string): FrozenCell => frozenValue(field, text(value));

/** Builds a message as a frozen branch, ready for `mount.sendBranch`. */
export function buildMessage(message: Exclude<Message, { kind: 'bundle' }>): FrozenCell {
  switch (message.kind) {
    case 'sub': {
      const fields = [str('src_chan', message.src), n64('beat_window', message.window), n64('max_infl', message.maxInfl)];
      if (message.token !== undefined) fields.push(str('epoch', message.token.epoch), n64('seq', message.token.seq));
      if (message.token !== undefined && message.restarted === true) fields.push(frozenValue('restarted', bool(true)));
      if (message.packed === true) fields.push(frozenValue('packed', bool(true)));
      return envelope('sub', fields);
    }
    case 'ack':
      return envelope('ack', [str('epoch', message.epoch), n64('seq', message.seq)]);
    case 'got':
      return envelope('got', [str('epoch', message.epoch), n64('seq', message.seq), n64('part', message.part)]);
    case 'unsub':
      return envelope('unsub', []);
    case 'welcome':
      return envelope('welcome', [str('epoch', message.epoch), frozenValue('resumed', bool(message.resumed))]);
    case 'reject':
      return envelope('reject', [str('note', message.note)]);
    case 'gkey':
      return envelope('gkey', [str('group', message.group), frozenValue('key', bytes(message.key))]);
    case 'joined':
      return envelope('joined', [str('group', message.group)]);
  }
}

/** Builds one part of a bundle around its ops (as packed by `packOps`). */
export function buildBundlePart(
  head: { epoch: string; seq: number; part: number; parts: number; firstBeat: number; lastBeat: number },
  ops: readonly FrozenCell[],
): FrozenCell {
  // List children need distinct names: ops are numbered by position.
  const list = frozenList(
    'ops',
    ops.map((op, i) => frozenDict(String(i + 1), op.children())),
  );
  return envelope('bundle', [
    str('epoch', head.epoch),
    n64('seq', head.seq),
    n64('part', head.part),
    n64('parts', head.parts),
    n64('first_beat', head.firstBeat),
    n64('last_beat', head.lastBeat),
    list,
  ]);
}

/** A named child of a staged dictionary. */
export function field(cell: StagedCell, tag: string): StagedCell | undefined {
  const key = name(tag).key;
  return cell.children.find((c) => c.name.key === key && !c.deleted);
}

function cellValueOf(cell: StagedCell, tag: string): Value | undefined {
  const f = field(cell, tag);
  return f?.kind === 'value' ? f.value : undefined;
}

/** Reads a message; a string is the reason it is not one. */
export function readMessage(root: StagedCell): Message | string {
  if (root.kind !== 'dictionary') return 'a mirror message is a dictionary';
  const kind = cellValueOf(root, 'kind');
  if (kind?.type !== 'text') return 'a mirror message needs a kind (text)';
  const t = (tag: string): string | undefined => {
    const v = cellValueOf(root, tag);
    return v?.type === 'text' ? v.value : undefined;
  };
  const u = (tag: string): number | undefined => {
    const v = cellValueOf(root, tag);
    return v?.type === 'u64' && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : undefined;
  };
  const need = <T>(value: T | undefined, tag: string): T => {
    if (value === undefined) throw new Error(`${kind.value}: ${tag} missing or of the wrong type`);
    return value;
  };
  try {
    switch (kind.value) {
      case 'sub': {
        const epoch = t('epoch');
        const seq = u('seq');
        const restarted = cellValueOf(root, 'restarted');
        const packed = cellValueOf(root, 'packed');
        return {
          kind: 'sub',
          src: need(t('src_chan'), 'src_chan'),
          window: need(u('beat_window'), 'beat_window'),
          maxInfl: need(u('max_infl'), 'max_infl'),
          token: epoch !== undefined && seq !== undefined ? { epoch, seq } : undefined,
          restarted: restarted?.type === 'bool' && restarted.value,
          packed: packed?.type === 'bool' && packed.value,
        };
      }
      case 'ack':
        return { kind: 'ack', epoch: need(t('epoch'), 'epoch'), seq: need(u('seq'), 'seq') };
      case 'got':
        return { kind: 'got', epoch: need(t('epoch'), 'epoch'), seq: need(u('seq'), 'seq'), part: need(u('part'), 'part') };
      case 'unsub':
        return { kind: 'unsub' };
      case 'welcome': {
        const resumed = cellValueOf(root, 'resumed');
        return { kind: 'welcome', epoch: need(t('epoch'), 'epoch'), resumed: need(resumed?.type === 'bool' ? resumed.value : undefined, 'resumed') };
      }
      case 'reject':
        return { kind: 'reject', note: need(t('note'), 'note') };
      case 'gkey': {
        const key = cellValueOf(root, 'key');
        const raw = need(key?.type === 'bytes' ? key.value : undefined, 'key');
        if (raw.length !== 32) return `gkey: key is ${raw.length} bytes, not 32`;
        return { kind: 'gkey', group: need(t('group'), 'group'), key: Uint8Array.from(raw) };
      }
      case 'joined':
        return { kind: 'joined', group: need(t('group'), 'group') };
      case 'bundle': {
        const ops = field(root, 'ops');
        if (ops?.kind !== 'list') return 'bundle: ops is not a list';
        const part = need(u('part'), 'part');
        const parts = need(u('parts'), 'parts');
        // `parts` is 0 on every part but the last of a bundle packed over several beats.
        if (part < 1) return `bundle: part ${part} is not a part number`;
        if (parts !== 0 && part !== parts) return `bundle: part ${part} names ${parts} parts; only the last part names the count`;
        return {
          kind: 'bundle',
          epoch: need(t('epoch'), 'epoch'),
          seq: need(u('seq'), 'seq'),
          part,
          parts,
          firstBeat: need(u('first_beat'), 'first_beat'),
          lastBeat: need(u('last_beat'), 'last_beat'),
          ops: ops.children.map(unpackOp),
        };
      }
      default:
        return `unknown mirror message kind ${JSON.stringify(kind.value)}`;
    }
  } catch (error) {
    return (error as Error).message;
  }
}

const V_KEY = name('v').key;
const VB_KEY = name('vb').key;

/**
 * An op whose content came packed (`vb`, see `compact.ts`) with that content read back as the
 * `v` branch it stands for, so applying it is the same either way. Throws on a malformed one
 * (the message becomes a note: nothing of the bundle is applied).
 */
function unpackOp(op: StagedCell): StagedCell {
  let packed: StagedCell | undefined;
  let plain = false;
  for (const c of op.children) {
    if (c.deleted) continue;
    if (c.name.key === VB_KEY) packed = c;
    else if (c.name.key === V_KEY) plain = true;
  }
  if (packed === undefined) return op;
  if (plain) throw new Error('bundle: an op has both v and vb');
  if (packed.kind !== 'value' || packed.value?.type !== 'bytes') throw new Error('bundle: an op has a vb that is not bytes');
  let v: StagedCell;
  try {
    v = unpackCell(packed.value.value);
  } catch (error) {
    throw new Error(`bundle: ${(error as Error).message}`);
  }
  if (v.name.key !== V_KEY) throw new Error('bundle: a packed op content is not named v');
  return { ...op, children: op.children.map((c) => (c === packed ? v : c)) };
}

/** Reads a path chain (`path/<a>/<b>/…`) back into names. */
export function readChain(cell: StagedCell | undefined): Name[] | string {
  if (cell === undefined) return 'an op has no path';
  const names: Name[] = [];
  for (let c = cell; c.children.length > 0; ) {
    if (c.children.length !== 1 || c.kind !== 'dictionary') return 'a path chain has a level with more than one child';
    c = c.children[0]!;
    names.push(c.name);
  }
  return names;
}

/** `epoch:seq`, the resume token as the request shows it. */
export function formatToken(token: ResumeToken | undefined): string {
  return token === undefined ? '' : `${token.epoch}:${token.seq}`;
}

/** Parses `epoch:seq`; `undefined` for an empty text, a string when malformed. */
export function parseToken(value: string): ResumeToken | undefined | string {
  if (value === '') return undefined;
  const at = value.lastIndexOf(':');
  const seq = Number(value.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(value.slice(at + 1)) || !Number.isSafeInteger(seq)) return `${JSON.stringify(value)} is not <epoch>:<seq>`;
  return { epoch: value.slice(0, at), seq };
}
