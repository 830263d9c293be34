import { bool, createTree, text, u64, type Tree, type Value } from '@cep/cells';
import { createRuntime, type EmittedFact, type Runtime } from '@cep/heartbeat';
import { installHealth, type HealthOptions } from '@cep/organ-health';

/** A valid telemetry record, as the transport manager writes it. */
export function validRecord(overrides: Record<string, Value | undefined> = {}): Record<string, Value> {
  const base: Record<string, Value | undefined> = {
    ready_count: u64(3n),
    bp_count: u64(1n),
    fatal_count: u64(0n),
    frame_count: u64(12n),
    last_mode: text('data'),
    last_sample: u64(7n),
    last_event: text('ready'),
    bp_flag: bool(false),
    ...overrides,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, Value] => e[1] !== undefined));
}

export function writeRecord(tree: Tree, peer: string, mount: string, fields: Record<string, Value> = validRecord()): void {
  tree.ensureDictionary(['net', 'telemetry', peer, mount]);
  for (const [field, value] of Object.entries(fields)) tree.set(['net', 'telemetry', peer, mount, field], value);
}

/** A mount schema entry (only what pruning looks at: that it exists). */
export function writeMount(tree: Tree, peer: string, mode: string, mount: string): void {
  tree.set(['net', 'mounts', peer, mode, mount, 'state'], text('open'));
  tree.set(['net', 'mounts', peer, mode, mount, 'local_node'], text('earth'));
}

export interface Harness {
  readonly rt: Runtime;
  readonly tree: Tree;
  readonly facts: EmittedFact[];
  schemaFacts(): EmittedFact[];
}

export function harness(options: HealthOptions = {}, tree: Tree = createTree()): Harness {
  const rt = createRuntime({ tree });
  installHealth(rt, options);
  const facts: EmittedFact[] = [];
  rt.cei.onFact((fact) => facts.push(fact));
  return { rt, tree: rt.tree, facts, schemaFacts: () => facts.filter((f) => f.topic === 'tp_schema') };
}

export function textAt(tree: Tree, path: string): string | undefined {
  const v = tree.getValue(path);
  return v?.type === 'text' ? v.value : undefined;
}

/**
 * A stand-in transport manager: in commit of every beat it writes telemetry for each mount
 * it believes live. `lag` keeps its list of mounts one beat stale (a manager that learns of a
 * removal late), to show pruning and the manager never undo each other.
 */
export function fakeManager(rt: Runtime, options: { lag?: boolean } = {}): void {
  let known: [string, string][] = [];
  const scan = (): [string, string][] => {
    const out: [string, string][] = [];
    for (const peer of rt.tree.get('/net/mounts')?.children() ?? []) {
      if (peer.isDeleted) continue;
      for (const mode of peer.children()) {
        if (mode.isDeleted) continue;
        for (const mount of mode.children()) if (!mount.isDeleted) out.push([peer.name.tag.text, mount.name.tag.text]);
      }
    }
    return out;
  };
  rt.onCommit((beat) => {
    const live = options.lag === true ? known : scan();
    for (const [peer, mount] of live) {
      const path = ['net', 'telemetry', peer, mount];
      const frames = rt.tree.getValue([...path, 'frame_count']);
      writeRecord(
        rt.tree,
        peer,
        mount,
        validRecord({
          frame_count: u64((frames?.type === 'u64' ? frames.value : 0n) + 1n),
          last_sample: u64(BigInt(beat)),
        }),
      );
    }
    known = scan();
  });
}
