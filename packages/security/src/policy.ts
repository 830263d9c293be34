/**
 * The security policy, schema-first: declared from a plain config object into
 * `/sys/security/**` of a runtime's tree, and read back from there. Everything a
 * decision needs is in the tree, so a replay of the same tree decides the same.
 */
import { createTree, digestHex, isWordText, name, text, u64, type Cell, type Name, type Tree } from '@cep/cells';
import { securityError } from './errors.ts';
import { stampMatches, stampOf } from './memo.ts';

/** Ceilings for one trip across an edge. Omitted fields are unlimited. */
export interface Budgets {
  /** Beats the invoke may take from submission to completion. */
  readonly beats?: number;
  /** CPU time the remote run may use, in nanoseconds (measured at the edge, recorded, then charged). */
  readonly cpuNs?: number;
  /** Bytes in and out (frames) for one invoke. */
  readonly ioBytes?: number;
  /** Highest hop index a pipeline may reach across this edge. */
  readonly hops?: number;
  /** Wall-clock time of the remote run in ms (measured at the edge, recorded, then charged). */
  readonly wallMs?: number;
}

/** One stage of a pipeline: which enclave runs it, through which gateway (signal). */
export interface PipelineStage {
  readonly id: string;
  readonly enclave: string;
  readonly gateway?: string;
}

/** A pipeline spec as a pack declares it. */
export interface PipelineSpec {
  readonly id: string;
  readonly stages: readonly PipelineStage[];
  /** Ceilings the pipeline asks for; the tighter of these and the edge's budgets applies. */
  readonly ceilings?: Budgets;
}

/** The policy as a config file states it. */
export interface PolicyConfig {
  /** Enclave name → trust tier (0 trusted … 3 sandboxed). */
  readonly enclaves?: Readonly<Record<string, { readonly tier?: number }>>;
  /** Declared edges; anything not declared is denied. */
  readonly edges?: readonly { readonly from: string; readonly to: string; readonly budgets?: Budgets }[];
  /** Budgets for edges that declare none. */
  readonly defaults?: Budgets;
  readonly pipelines?: readonly PipelineSpec[];
}

export const SECURITY_ROOT = ['sys', 'security'] as const;
const BUDGET_FIELDS = [
  ['beats', 'beats'],
  ['cpuNs', 'cpu_ns'],
  ['ioBytes', 'io_bytes'],
  ['hops', 'hops'],
  ['wallMs', 'wall_ms'],
] as const;

function checkWordName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isWordText(value)) {
    throw securityError('SEC_POLICY_INVALID', `${field} must be a CEP word (≤ 11 of a-z, space, ':_-.'), got ${JSON.stringify(value)}`, { field });
  }
  return value;
}

function checkText(value: unknown, field: string, max = 127): string {
  if (typeof value !== 'string' || value.length === 0 || new TextEncoder().encode(value).length > max) {
    throw securityError('SEC_POLICY_INVALID', `${field} must be a text of 1..${max} bytes, got ${JSON.stringify(value)}`, { field });
  }
  return value;
}

function writeBudgets(tree: Tree, path: readonly string[], budgets: Budgets | undefined, field: string): void {
  tree.ensureDictionary([...path]);
  for (const [key, cellName] of BUDGET_FIELDS) {
    const value = budgets?.[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 0) {
      throw securityError('SEC_POLICY_INVALID', `${field}.${key} must be a whole number ≥ 0, got ${String(value)}`, { field: `${field}.${key}` });
    }
    tree.set([...path, cellName], u64(value));
  }
}

function readBudgets(cell: Cell | undefined): Budgets {
  const out: Record<string, number> = {};
  for (const [key, cellName] of BUDGET_FIELDS) {
    const value = cell?.child(cellName);
    if (value?.value?.type === 'u64' && !value.isDeleted) out[key] = Number(value.value.value);
  }
  return out;
}

/**
 * Writes `config` under `/sys/security` (replacing what was there; approvals are kept and
 * checked against the new policy when used), all or nothing:
 * an invalid field throws `SEC_POLICY_INVALID` naming it and leaves the tree unchanged.
 */
export function declarePolicy(tree: Tree, config: PolicyConfig): void {
  tree.batch(() => {
    // Approvals stay: they carry the spec hash and policy version they hold for, so a
    // reload that changes nothing keeps them valid and one that changes anything voids them.
    for (const part of ['enclaves', 'edges', 'defaults', 'pipelines']) tree.remove([...SECURITY_ROOT, part]);
    tree.ensureDictionary([...SECURITY_ROOT, 'enclaves']);
    tree.ensureDictionary([...SECURITY_ROOT, 'edges']);
    tree.ensureDictionary([...SECURITY_ROOT, 'pipelines']);
    for (const [enclave, spec] of Object.entries(config.enclaves ?? {})) {
      checkWordName(enclave, `enclaves.${enclave}`);
      const tier = spec.tier ?? 0;
      if (!Number.isSafeInteger(tier) || tier < 0 || tier > 9) {
        throw securityError('SEC_POLICY_INVALID', `enclaves.${enclave}.tier must be 0..9, got ${String(tier)}`, { field: `enclaves.${enclave}.tier` });
      }
      tree.set([...SECURITY_ROOT, 'enclaves', enclave, 'tier'], u64(tier));
    }
    (config.edges ?? []).forEach((edge, i) => {
      const from = checkWordName(edge.from, `edges[${i}].from`);
      const to = checkWordName(edge.to, `edges[${i}].to`);
      writeBudgets(tree, [...SECURITY_ROOT, 'edges', from, to], edge.budgets, `edges[${i}].budgets`);
    });
    writeBudgets(tree, [...SECURITY_ROOT, 'defaults'], config.defaults, 'defaults');
    (config.pipelines ?? []).forEach((spec, i) => writePipelineSpec(tree, spec, `pipelines[${i}]`));
  });
}

/** Writes (or replaces) one pipeline spec; any approval it had is gone with it. */
export function writePipelineSpec(tree: Tree, spec: PipelineSpec, field = 'pipeline'): void {
  tree.batch(() => {
    const id = checkText(spec.id, `${field}.id`);
    if (!Array.isArray(spec.stages) || spec.stages.length === 0) {
      throw securityError('SEC_POLICY_INVALID', `${field}.stages must list at least one stage`, { field: `${field}.stages` });
    }
    const base = [...SECURITY_ROOT, 'pipelines', id];
    tree.remove(base);
    tree.ensureList([...base, 'stages']);
    const seen = new Set<string>();
    spec.stages.forEach((stage, i) => {
      const stageId = checkText(stage.id, `${field}.stages[${i}].id`);
      if (seen.has(stageId))
        throw securityError('SEC_POLICY_INVALID', `${field}.stages[${i}].id ${JSON.stringify(stageId)} repeats`, { field: `${field}.stages[${i}].id` });
      seen.add(stageId);
      const cell = tree.append([...base, 'stages'], 'dictionary');
      tree.set([...cell.path(), 'id'], text(stageId));
      tree.set([...cell.path(), 'enclave'], text(checkWordName(stage.enclave, `${field}.stages[${i}].enclave`)));
      if (stage.gateway !== undefined) tree.set([...cell.path(), 'gateway'], text(checkText(stage.gateway, `${field}.stages[${i}].gateway`)));
    });
    writeBudgets(tree, [...base, 'ceilings'], spec.ceilings, `${field}.ceilings`);
  });
}

/** A read-only view of the policy at one moment, plus its version. */
export interface PolicySnapshot {
  /** Hash of enclaves, edges and defaults: any change of policy changes it. */
  readonly version: string;
  readonly enclaves: ReadonlyMap<string, number>;
  /** `from` → `to` → budgets. */
  readonly edges: ReadonlyMap<string, ReadonlyMap<string, Budgets>>;
  readonly defaults: Budgets;
}

/** The policy version: a digest of enclaves, edges and defaults (pipelines and approvals excluded). */
export function policyVersion(tree: Tree): string {
  return currentPolicy(tree).version;
}

/** The cells the policy is read from: `/sys/security` and its enclaves, edges and defaults. */
function policyCells(tree: Tree): (Cell | undefined)[] {
  const root = tree.get(POLICY_ROOT);
  return [root, root?.child(POLICY_PART.enclaves), root?.child(POLICY_PART.edges), root?.child(POLICY_PART.defaults)];
}
// As names, made once: read on every check (twice per invoke), a text path is parsed per read.
const POLICY_ROOT: readonly Name[] = SECURITY_ROOT.map((segment) => name(segment));
const POLICY_PART = { enclaves: name('enclaves'), edges: name('edges'), defaults: name('defaults') } as const;

/**
 * The last policy read from each tree, with the stamp of the cells it was read from. Every
 * invoke is checked twice (sender and receiver) and the policy rarely changes: re-reading it
 * and re-hashing a copy of it per call was most of a decision's cost. The stamp comparison
 * is exact (see memo.ts), so a changed policy is always read again.
 */
const policyMemo = new WeakMap<Tree, { stamp: unknown[]; snapshot: PolicySnapshot }>();

function currentPolicy(tree: Tree): PolicySnapshot {
  const cells = policyCells(tree);
  const memo = policyMemo.get(tree);
  if (memo !== undefined && stampMatches(cells, memo.stamp)) return memo.snapshot;
  const stamp = stampOf(cells);
  const snapshot = buildPolicy(cells[0], computeVersion(cells));
  policyMemo.set(tree, { stamp, snapshot });
  return snapshot;
}

function computeVersion(cells: readonly (Cell | undefined)[]): string {
  const scratch = createTree();
  ['enclaves', 'edges', 'defaults'].forEach((part, i) => {
    const cell = cells[i + 1];
    if (cell !== undefined && !cell.isDeleted) copyBranch(cell, scratch, [part]);
    else scratch.ensureDictionary([part]);
  });
  return digestHex(scratch.root).slice(0, 32);
}

function copyBranch(cell: Cell, into: Tree, path: readonly (string | ReturnType<typeof name>)[]): void {
  if (cell.kind === 'value') {
    into.set([...path], cell.value!);
    return;
  }
  into.ensureDictionary([...path]);
  for (const child of cell.children()) if (!child.isDeleted) copyBranch(child, into, [...path, child.name]);
}

/**
 * Reads the policy back from the tree. The snapshot is shared by calls that see the same
 * policy (it is read-only); a change of any policy cell gives a fresh one.
 */
export function readPolicy(tree: Tree): PolicySnapshot {
  return currentPolicy(tree);
}

function buildPolicy(root: Cell | undefined, version: string): PolicySnapshot {
  const enclaves = new Map<string, number>();
  for (const cell of root?.child('enclaves')?.children() ?? []) {
    if (cell.isDeleted) continue;
    const tier = cell.child('tier')?.value;
    enclaves.set(cell.name.tag.text, tier?.type === 'u64' ? Number(tier.value) : 0);
  }
  const edges = new Map<string, Map<string, Budgets>>();
  for (const from of root?.child('edges')?.children() ?? []) {
    if (from.isDeleted) continue;
    const targets = new Map<string, Budgets>();
    for (const to of from.children()) if (!to.isDeleted) targets.set(to.name.tag.text, Object.freeze(readBudgets(to)));
    edges.set(from.name.tag.text, targets);
  }
  return { version, enclaves, edges, defaults: Object.freeze(readBudgets(root?.child('defaults'))) };
}

/** Reads one pipeline spec back (`undefined` when none has that id). */
export function readPipelineSpec(tree: Tree, id: string): PipelineSpec | undefined {
  const cell = tree.get([...SECURITY_ROOT, 'pipelines', id]);
  if (cell === undefined) return undefined;
  const stages: PipelineStage[] = [];
  for (const stage of cell.child('stages')?.children() ?? []) {
    if (stage.isDeleted) continue;
    const field = (n: string) => {
      const v = stage.child(n);
      return v?.value?.type === 'text' && !v.isDeleted ? v.value.value : undefined;
    };
    const gateway = field('gateway');
    stages.push({ id: field('id') ?? '', enclave: field('enclave') ?? '', ...(gateway !== undefined ? { gateway } : {}) });
  }
  return { id, stages, ceilings: readBudgets(cell.child('ceilings')) };
}
