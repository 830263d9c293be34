import { bool, createTree, digestHex, i64, text, u64, type Value } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { TELEMETRY_FIELDS, checkTelemetry } from '@cep/organ-health';
import { harness, textAt, validRecord, writeRecord } from './helpers.ts';

const REC = '/net/telemetry/saturn/main';

const WRONG: Record<string, Value[]> = {
  text: [u64(1n), bool(true)],
  bool: [text('false'), u64(0n)],
  u64: [i64(3n), text('3'), bool(false)],
};

/** Digest of a peer's telemetry branch as it would be with exactly these records and nothing else. */
function expectedPeer(records: Record<string, Record<string, Value>>, notes: Record<string, string> = {}): string {
  const t = createTree();
  for (const [mount, fields] of Object.entries(records)) {
    t.ensureDictionary(['p', mount]);
    for (const [field, value] of Object.entries(fields)) t.set(['p', mount, field], value);
    if (notes[mount] !== undefined) t.set(['p', mount, 'error_note'], text(notes[mount]));
  }
  return digestHex(t.get('/p')!);
}

describe('health: telemetry records', () => {
  it('accepts valid records: no CEI fact, no note, nothing changed', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main');
    writeRecord(h.tree, 'saturn', 'gauges', validRecord({ bp_flag: bool(true), last_mode: text('upd_latest') }));
    writeRecord(h.tree, 'venus', 'main');
    const report = h.rt.step();
    expect(report.organRuns).toBe(2);
    expect(h.facts).toEqual([]);
    expect(digestHex(h.tree.get('/net/telemetry/saturn')!)).toBe(
      expectedPeer({ main: validRecord(), gauges: validRecord({ bp_flag: bool(true), last_mode: text('upd_latest') }) }),
    );
    expect(h.tree.get('/net/peers')).toBeUndefined();
  });

  for (const spec of TELEMETRY_FIELDS) {
    it(`refuses a record missing '${spec.name}': one tp_schema naming peer, mount and field; error_note; nothing else changed`, () => {
      const h = harness();
      const record = validRecord({ [spec.name]: undefined });
      writeRecord(h.tree, 'saturn', 'main', record);
      writeRecord(h.tree, 'saturn', 'other');
      h.rt.step();
      const problem = `missing field '${spec.name}' (${spec.type})`;
      expect(h.facts.map((f) => [f.topic, f.severity, f.peer, f.note])).toEqual([
        ['tp_schema', 'error', 'saturn', `telemetry peer 'saturn' mount 'main': ${problem}`],
      ]);
      expect(textAt(h.tree, `${REC}/error_note`)).toBe(problem);
      expect(textAt(h.tree, '/net/peers/saturn/ceh/tp_schema/note')).toBe(h.facts[0]!.note);
      expect(digestHex(h.tree.get('/net/telemetry/saturn')!)).toBe(expectedPeer({ main: record, other: validRecord() }, { main: problem }));
    });

    for (const wrong of WRONG[spec.type]!) {
      it(`refuses '${spec.name}' as ${wrong.type} (must be ${spec.type})`, () => {
        const h = harness();
        const record = validRecord({ [spec.name]: wrong });
        writeRecord(h.tree, 'saturn', 'main', record);
        h.rt.step();
        const problem = `field '${spec.name}' must be ${spec.type}, found ${wrong.type}`;
        expect(h.schemaFacts().map((f) => f.note)).toEqual([`telemetry peer 'saturn' mount 'main': ${problem}`]);
        expect(digestHex(h.tree.get('/net/telemetry/saturn')!)).toBe(expectedPeer({ main: record }, { main: problem }));
      });
    }
  }

  it('refuses empty texts and a field that is a dictionary', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main', validRecord({ last_event: text(''), bp_flag: undefined }));
    h.tree.set(`${REC}/bp_flag/x`, bool(true));
    h.rt.step();
    expect(textAt(h.tree, `${REC}/error_note`)).toBe(`field 'last_event' must not be empty; field 'bp_flag' must be bool, found a dictionary`);
    expect(h.schemaFacts()).toHaveLength(1);
  });

  it('stays silent while a manager rewrites a bad record unchanged, reports a new problem, clears when fixed', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main', validRecord({ bp_flag: u64(0n) }));
    h.rt.step();
    for (let beat = 0; beat < 3; beat++) {
      h.tree.set(`${REC}/frame_count`, u64(20n + BigInt(beat)));
      h.rt.step();
    }
    expect(h.schemaFacts()).toHaveLength(1);
    h.tree.remove(`${REC}/last_mode`);
    h.tree.set(`${REC}/frame_count`, u64(99n));
    h.rt.step();
    expect(h.schemaFacts()).toHaveLength(2);
    h.tree.set(`${REC}/bp_flag`, bool(false));
    h.tree.set(`${REC}/last_mode`, text('data'));
    h.rt.step();
    expect(h.tree.get(`${REC}/error_note`)).toBeUndefined();
    expect(h.schemaFacts()).toHaveLength(2);
  });

  it('notices a field hard-removed from a valid record (tree.remove, no other write)', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main');
    h.rt.step();
    h.tree.remove(`${REC}/bp_flag`);
    const report = h.rt.step();
    expect(report.organRuns).toBe(1);
    expect(report.signals).toBe(0); // the organ pass alone; the mount watch is not involved
    expect(textAt(h.tree, `${REC}/error_note`)).toBe(`missing field 'bp_flag' (bool)`);
    expect(h.schemaFacts()).toHaveLength(1);
  });

  it('allows fields beyond the schema (async counters, provider, …)', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main', { ...validRecord(), provider: text('tcp'), async_pnd: u64(0n) });
    h.rt.step();
    expect(h.facts).toEqual([]);
  });

  it('removes an empty record and a peer left without records, silently', () => {
    const h = harness();
    h.tree.ensureDictionary('/net/telemetry/saturn/main');
    writeRecord(h.tree, 'venus', 'main');
    h.tree.ensureDictionary('/net/telemetry/venus/spare');
    h.rt.step();
    expect(h.tree.find('/net/telemetry/saturn')).toBeUndefined();
    expect(h.tree.find('/net/telemetry/venus/spare')).toBeUndefined();
    expect(h.tree.get('/net/telemetry/venus/main')).toBeDefined();
    expect(h.facts).toEqual([]);
  });

  it('uses the severity option', () => {
    const h = harness({ severity: 'warn' });
    writeRecord(h.tree, 'saturn', 'main', validRecord({ bp_count: undefined }));
    h.rt.step();
    expect(h.schemaFacts()[0]!.severity).toBe('warn');
  });

  it('checkTelemetry is usable on its own', () => {
    const t = createTree();
    writeRecord(t, 'saturn', 'main', validRecord({ last_sample: text('7') }));
    expect(checkTelemetry(t, t.get(REC)!)).toEqual([`field 'last_sample' must be u64, found text`]);
  });
});

describe('health: CEP word limits on names', () => {
  it('refuses a mount name over the word limit', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn', 'main_channel');
    h.rt.step();
    expect(textAt(h.tree, '/net/telemetry/saturn/main_channel/error_note')).toBe('mount name is not a CEP word: it has 12 characters (a word has at most 11)');
    expect(h.schemaFacts()).toHaveLength(1);
  });

  it('refuses a peer name over the word limit, with the note on the peer', () => {
    const h = harness();
    writeRecord(h.tree, 'saturn-primary', 'main');
    h.rt.step();
    const note = 'peer name is not a CEP word: it has 14 characters (a word has at most 11)';
    expect(textAt(h.tree, '/net/telemetry/saturn-primary/error_note')).toBe(note);
    expect(h.schemaFacts().map((f) => f.note)).toEqual([`telemetry peer 'saturn-primary': ${note}`]);
  });
});
