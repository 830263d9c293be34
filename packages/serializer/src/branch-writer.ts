/**
 * The branch encoder's walk: one cell_desc per cell (keyed by its path from the branch
 * root), manifest and order pages for every store, payload chunks for large or encrypted
 * values, then the name table. Keys and bodies are written straight into the
 * {@link FrameWriter}'s buffer (FrameWriter.beginRecord); the path of the current cell lives
 * in one growing stack.
 *
 * The order of name-table calls is part of the output: reference names get frame-local
 * ids in first-use order, so this walk asks for names exactly when the reference does
 * (a store's suffix, link targets, value data types, then per manifest page its children's
 * data types followed by its bounds and child names).
 */
import { name, valueToData, type Cell, type Name } from '@cep/cells';
import { ByteWriter } from './bytes.ts';
import { CAP, RECORD_TYPE } from './frame-format.ts';
import { FrameWriter } from './frame-writer.ts';
import { blake3 } from './hash.ts';
import { NameTableWriter, ROOT_NAME } from './names.ts';
import { CHUNK_BYTES, DATALESS_FINGERPRINT, writeChunkRecords, INLINE_MAX, MAX_CHUNKS_FOR_REFERENCE, payloadFingerprint } from './payload.ts';
import type { ResolvedPolicy } from './policy.ts';
import { CELL_TYPE, META, STORE, writeCellDescInto, writeManifestInto, writeNamepoolInto, writeOrderInto, type ManifestEntryInput } from './records.ts';

const DICTIONARY = name('dictionary');
const LIST = name('list');
const LINK = name('link');
/** Children per manifest / order page. */
const PAGE = 64;
const NAME_BYTES = 17;
const NO_REVISION = new Uint8Array(16);
const EMPTY = new Uint8Array(0);

/** A value's bytes, BLAKE3 and fingerprint: computed once, for its parent's manifest and its own cell_desc. */
interface Payload {
  readonly dataType: Name;
  readonly data: Uint8Array;
  readonly hash: Uint8Array | undefined;
  fingerprint: bigint | undefined;
}

function suffixOf(cell: Cell, payload: Payload | undefined): Name {
  switch (cell.kind) {
    case 'value':
      return payload!.dataType;
    case 'link':
      return LINK;
    case 'dictionary':
      return cell.storeType ?? DICTIONARY;
    case 'list':
      return cell.storeType ?? LIST;
  }
}

function valuePayload(cell: Cell): Payload {
  const { dataType, bytes } = valueToData(cell.value!);
  return { dataType, data: bytes, hash: bytes.length > 0 ? blake3(bytes) : undefined, fingerprint: undefined };
}

/** A path stack grown past this many bytes is dropped after its frame rather than kept. */
const PATH_KEEP = NAME_BYTES * 1024;
let sparePath: Uint8Array | undefined;

/** The spare path stack (a writer made while another is in use gets its own). */
function takePath(): Uint8Array {
  const path = sparePath ?? new Uint8Array(NAME_BYTES * 16);
  sparePath = undefined;
  return path;
}

/** Walks a branch into a frame writer. */
export class BranchWriter {
  readonly names = new NameTableWriter();
  readonly frame: FrameWriter;
  caps = 0;
  newest = 0;
  /** The frame's buffer: keys and bodies are written straight into it (see FrameWriter.beginRecord). */
  private readonly out: ByteWriter;
  /** Wire names from the branch root to the cell being written, 17 bytes each (reused across frames: see {@link dispose}). */
  private path = takePath();

  constructor(
    private readonly policy: ResolvedPolicy,
    private readonly includeDeleted: boolean,
  ) {
    this.frame = new FrameWriter(policy.checksum);
    this.out = this.frame.output;
  }

  /** Hands the path stack and the frame's buffer to the next frame; this writer must not be used after. */
  dispose(): void {
    if (this.path.length <= PATH_KEEP) sparePath = this.path;
    this.frame.dispose();
  }

  /** Writes `root` and everything below it, then the name table. */
  writeBranch(root: Cell): void {
    this.path.set(this.names.nameBytes(ROOT_NAME), 0);
    this.visit(root, 1, undefined);
    for (const entry of this.names.entries()) {
      const out = this.frame.beginRecord(RECORD_TYPE.NAMEPOOL_DELTA);
      out.u8(RECORD_TYPE.NAMEPOOL_DELTA);
      out.u64(entry.id);
      this.frame.beginBody();
      writeNamepoolInto(out, entry.text, false);
      this.frame.endRecord();
    }
    if (this.names.size > 0) this.caps |= CAP.NAMEPOOL_MAP;
  }

  /** A cell whose path (`depth` names, root included) is on the stack. */
  private visit(node: Cell, depth: number, known: Payload | undefined): void {
    this.newest = Math.max(this.newest, node.modified, node.deleted ?? 0);
    const payload = node.kind === 'value' ? (known ?? valuePayload(node)) : undefined;
    const suffix = this.names.nameBytes(suffixOf(node, payload));
    const linkData = node.kind === 'link' ? this.linkTarget(node) : undefined;
    const data = payload?.data ?? linkData;
    const hash = payload !== undefined ? payload.hash : linkData !== undefined && linkData.length > 0 ? blake3(linkData) : undefined;
    const fp = hash === undefined ? undefined : payload !== undefined ? this.fingerprint(payload) : payloadFingerprint(LINK, data!, this.names, hash);
    const inline = data !== undefined && data.length > 0 && data.length <= INLINE_MAX && this.policy.aead === undefined;
    if (fp !== undefined) this.caps |= CAP.PAYLOAD_FP | CAP.PAYLOAD_REF;
    this.startKey(RECORD_TYPE.CELL_DESC, depth, suffix);
    this.frame.beginBody();
    writeCellDescInto(this.out, {
      cellType: node.kind === 'link' ? CELL_TYPE.link : CELL_TYPE.normal,
      storeDescriptor: node.kind === 'dictionary' ? STORE.dictionary : node.kind === 'list' ? STORE.list : STORE.none,
      created: node.created,
      latest: node.modified,
      revision: hash ?? NO_REVISION,
      payloadKind: 0,
      fingerprint: fp,
      inline: inline ? data! : EMPTY,
      ref: hash !== undefined ? { refKind: 0, hashAlg: 1, codec: 0, aeadMode: this.policy.aead?.mode ?? 0, size: data!.length, hash } : undefined,
      metaMask: node.isDeleted ? META.tombstone : 0,
    });
    this.frame.endRecord();
    if (node.kind === 'dictionary' || node.kind === 'list') {
      const children = node.children().filter((c) => this.includeDeleted || !c.isDeleted);
      const payloads = this.writeManifest(node, depth, suffix, children);
      this.writeOrder(node, depth, suffix, children);
      this.visitChildren(children, payloads, depth);
    } else if (data !== undefined && data.length > 0 && !inline) {
      this.writeChunks(depth, suffix, data, fp!);
    }
  }

  private visitChildren(children: readonly Cell[], payloads: readonly (Payload | undefined)[], depth: number): void {
    const at = depth * NAME_BYTES;
    if (this.path.length < at + NAME_BYTES) {
      const grown = new Uint8Array(this.path.length * 2);
      grown.set(this.path);
      this.path = grown;
    }
    children.forEach((child, i) => {
      this.path.set(this.names.nameBytes(child.name), at);
      this.visit(child, depth + 1, payloads[i]);
    });
  }

  /** The link target as consecutive 17-byte names (names are registered in target order). */
  private linkTarget(node: Cell): Uint8Array {
    const target = new ByteWriter(NAME_BYTES * node.linkTarget!.length);
    for (const segment of node.linkTarget!) this.names.writeName(target, segment);
    return target.result().slice();
  }

  private fingerprint(payload: Payload): bigint {
    payload.fingerprint ??= payloadFingerprint(payload.dataType, payload.data, this.names, payload.hash!);
    return payload.fingerprint;
  }

  /** A child's manifest revision, as the fingerprint its 16 bytes start with (0: all zero, for a deleted child). */
  private childRevision(child: Cell, payload: Payload | undefined): bigint {
    if (child.isDeleted) return 0n;
    return payload !== undefined && payload.data.length > 0 ? this.fingerprint(payload) : DATALESS_FINGERPRINT;
  }

  /** Manifest pages; returns the value children's payloads (computed here, reused when they are visited). */
  private writeManifest(node: Cell, depth: number, suffix: Uint8Array, children: readonly Cell[]): (Payload | undefined)[] {
    if (children.length > 0) this.caps |= CAP.PAGED_CHILDSET | CAP.PAGED_ORDER;
    const payloads: (Payload | undefined)[] = [];
    for (let page = 0; page * PAGE < children.length; page++) {
      const slice = children.slice(page * PAGE, (page + 1) * PAGE);
      const entries: ManifestEntryInput[] = slice.map((child) => {
        // A deleted child's payload is left for its own visit, as the reference orders its name-table ids.
        const payload = child.kind === 'value' && !child.isDeleted ? valuePayload(child) : undefined;
        payloads.push(payload);
        return { op: child.isDeleted ? 2 : 1, name: child.name, mask: child.isDeleted ? META.tombstone : 0, revision: this.childRevision(child, payload) };
      });
      this.startKey(RECORD_TYPE.MANIFEST_DELTA, depth, suffix);
      this.out.varint(page);
      this.frame.beginBody();
      writeManifestInto(
        this.out,
        { epoch: BigInt(node.modified), rangeKind: 0, min: slice[0]!.name, max: children[(page + 1) * PAGE]?.name, entries },
        this.names,
      );
      this.frame.endRecord();
    }
    return payloads;
  }

  private writeOrder(node: Cell, depth: number, suffix: Uint8Array, children: readonly Cell[]): void {
    const projection = node.kind === 'list' ? 1 : 0;
    for (let page = 0; page * PAGE < children.length; page++) {
      const slice = children.slice(page * PAGE, (page + 1) * PAGE);
      this.startKey(RECORD_TYPE.ORDER_DELTA, depth, suffix);
      this.out.varint(projection);
      this.out.varint(page);
      this.frame.beginBody();
      writeOrderInto(
        this.out,
        {
          projection,
          epoch: BigInt(node.modified),
          rankMin: page * PAGE,
          entries: slice.map((child, i) => ({ op: child.isDeleted ? 2 : 1, name: child.name, position: page * PAGE + i })),
        },
        this.names,
      );
      this.frame.endRecord();
    }
  }

  /** Bytes of sealed chunk data (ciphertext and tags) written: deflate cannot shrink them. */
  sealedBytes = 0;

  private writeChunks(depth: number, suffix: Uint8Array, data: Uint8Array, fp: bigint): void {
    if (this.policy.aead !== undefined)
      this.sealedBytes += data.length + 16 * Math.ceil(data.length / Math.max(CHUNK_BYTES, Math.ceil(data.length / MAX_CHUNKS_FOR_REFERENCE)));
    writeChunkRecords(this.frame, () => this.startKey(RECORD_TYPE.PAYLOAD_CHUNK, depth, suffix), data, fp, this.policy.aead);
  }

  /** Starts a record key: type byte, the path on the stack, the cell's suffix name. */
  private startKey(type: number, depth: number, suffix: Uint8Array): void {
    const out = this.frame.beginRecord(type);
    out.u8(type);
    out.bytesFrom(this.path, 0, depth * NAME_BYTES);
    out.bytes(suffix);
  }
}
