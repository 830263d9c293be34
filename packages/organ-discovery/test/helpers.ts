import { bool, createTree, text, type Tree, type Value } from '@cep/cells';
import { createRuntime, type EmittedFact, type Runtime } from '@cep/heartbeat';
import { installDiscovery, type DiscoveryOptions } from '@cep/organ-discovery';

/** A valid service record. */
export function validService(overrides: Record<string, Value | undefined> = {}): Record<string, Value> {
  const base: Record<string, Value | undefined> = {
    mode: text('link'),
    mount: text('main'),
    local_node: text('earth'),
    provider: text('tcp'),
    upd_latest: bool(false),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, Value] => e[1] !== undefined));
}

export function writeService(tree: Tree, peer: string, service: string, fields: Record<string, Value>): void {
  tree.ensureDictionary(['net', 'peers', peer, 'services', service]);
  for (const [field, value] of Object.entries(fields)) tree.set(['net', 'peers', peer, 'services', service, field], value);
}

export interface Harness {
  readonly rt: Runtime;
  readonly tree: Tree;
  /** Every CEI fact recorded since the harness was made. */
  readonly facts: EmittedFact[];
  schemaFacts(): EmittedFact[];
}

export function harness(options: DiscoveryOptions = {}, tree: Tree = createTree()): Harness {
  const rt = createRuntime({ tree });
  installDiscovery(rt, options);
  const facts: EmittedFact[] = [];
  rt.cei.onFact((fact) => facts.push(fact));
  return { rt, tree: rt.tree, facts, schemaFacts: () => facts.filter((f) => f.topic === 'tp_schema') };
}

export function textAt(tree: Tree, path: string): string | undefined {
  const v = tree.getValue(path);
  return v?.type === 'text' ? v.value : undefined;
}
