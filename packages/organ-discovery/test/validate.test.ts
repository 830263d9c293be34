import { bool, createTree, digestHex, i64, text, u64, type Value } from '@cep/cells';
import { describe, expect, it } from 'vitest';
import { SERVICE_FIELDS, checkService } from '@cep/organ-discovery';
import { harness, textAt, validService, writeService } from './helpers.ts';

const SVC = '/net/peers/saturn/services/main';

/** Wrong-typed values per field type: every other type, and a dictionary. */
const WRONG: Record<string, Value[]> = {
  text: [u64(1n), bool(true), i64(-1n)],
  bool: [text('true'), u64(1n)],
  u64: [text('1'), bool(false)],
};

/** Digest of the services branch as it would be with exactly these records and nothing else. */
function expectedServices(records: Record<string, Record<string, Value>>, notes: Record<string, string> = {}): string {
  const t = createTree();
  for (const [service, fields] of Object.entries(records)) {
    t.ensureDictionary(['s', service]);
    for (const [field, value] of Object.entries(fields)) t.set(['s', service, field], value);
    if (notes[service] !== undefined) t.set(['s', service, 'error_note'], text(notes[service]));
  }
  return digestHex(t.get('/s')!);
}

describe('discovery: service records', () => {
  it('accepts valid records: no CEI fact, no error note, nothing changed', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    writeService(h.tree, 'saturn', 'gauges', validService({ upd_latest: bool(true), provider: text('udp') }));
    writeService(h.tree, 'venus', 'main', validService({ mode: text('mirror') }));
    const report = h.rt.step();
    expect(report.organRuns).toBe(2); // one request per peer
    expect(h.facts).toEqual([]);
    expect(digestHex(h.tree.get('/net/peers/saturn/services')!)).toBe(
      expectedServices({ main: validService(), gauges: validService({ upd_latest: bool(true), provider: text('udp') }) }),
    );
    expect(h.tree.get('/net/peers/saturn/ceh')).toBeUndefined();
    expect(h.tree.get('/net/peers/venus/services/main/error_note')).toBeUndefined();
  });

  for (const spec of SERVICE_FIELDS) {
    it(`refuses a record missing '${spec.name}': one tp_schema naming peer, service and field; error_note; nothing else changed`, () => {
      const h = harness();
      const record = validService({ [spec.name]: undefined });
      writeService(h.tree, 'saturn', 'main', record);
      writeService(h.tree, 'saturn', 'other', validService());
      h.rt.step();
      const facts = h.schemaFacts();
      expect(facts).toHaveLength(1);
      expect(h.facts).toHaveLength(1);
      expect(facts[0]!.severity).toBe('error');
      expect(facts[0]!.peer).toBe('saturn');
      expect(facts[0]!.note).toBe(`peer 'saturn' service 'main': missing field '${spec.name}' (${spec.type})`);
      expect(textAt(h.tree, `${SVC}/error_note`)).toBe(`missing field '${spec.name}' (${spec.type})`);
      expect(textAt(h.tree, '/net/peers/saturn/ceh/tp_schema/note')).toBe(facts[0]!.note);
      // only the note was added: the records themselves are untouched
      expect(digestHex(h.tree.get('/net/peers/saturn/services')!)).toBe(
        expectedServices({ main: record, other: validService() }, { main: `missing field '${spec.name}' (${spec.type})` }),
      );
      expect(
        h.tree
          .get('/net/peers/saturn')!
          .children()
          .map((c) => c.name.tag.text),
      ).toEqual(['ceh', 'services']);
    });

    for (const wrong of WRONG[spec.type]!) {
      it(`refuses '${spec.name}' as ${wrong.type} (must be ${spec.type})`, () => {
        const h = harness();
        const record = validService({ [spec.name]: wrong });
        writeService(h.tree, 'saturn', 'main', record);
        h.rt.step();
        const note = `field '${spec.name}' must be ${spec.type}, found ${wrong.type}`;
        expect(h.schemaFacts().map((f) => f.note)).toEqual([`peer 'saturn' service 'main': ${note}`]);
        expect(digestHex(h.tree.get('/net/peers/saturn/services')!)).toBe(expectedServices({ main: record }, { main: note }));
      });
    }
  }

  it('refuses a field that is a dictionary instead of a value', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService({ mode: undefined }));
    h.tree.set(`${SVC}/mode/inner`, text('link'));
    h.rt.step();
    expect(textAt(h.tree, `${SVC}/error_note`)).toBe(`field 'mode' must be text, found a dictionary`);
  });

  it('refuses empty texts and texts that are not CEP words', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService({ mode: text(''), mount: text('a-very-long-mount'), provider: text('TCP') }));
    h.rt.step();
    const note = textAt(h.tree, `${SVC}/error_note`)!;
    expect(note).toContain(`field 'mode' must not be empty`);
    expect(note).toContain(`field 'mount' ('a-very-long-mount') is not a CEP word: it has 17 characters (a word has at most 11)`);
    expect(note).toContain(`field 'provider' ('TCP') is not a CEP word`);
    expect(h.schemaFacts()).toHaveLength(1); // one fact per record, listing every problem
  });

  it('reads a field through a link, and refuses a dangling one', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService({ local_node: undefined }));
    h.tree.set('/data/node', text('earth'));
    h.tree.link(`${SVC}/local_node`, '/data/node');
    writeService(h.tree, 'saturn', 'other', validService({ local_node: undefined }));
    h.tree.link('/net/peers/saturn/services/other/local_node', '/data/nowhere');
    h.rt.step();
    expect(h.tree.get(`${SVC}/error_note`)).toBeUndefined();
    expect(textAt(h.tree, '/net/peers/saturn/services/other/error_note')).toBe(`field 'local_node' is a dangling link`);
  });

  it('clears the note when the record is fixed, without a new fact', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService({ upd_latest: text('no') }));
    h.rt.step();
    expect(h.schemaFacts()).toHaveLength(1);
    h.tree.set(`${SVC}/upd_latest`, bool(false));
    h.rt.step();
    expect(h.tree.get(`${SVC}/error_note`)).toBeUndefined();
    expect(h.tree.find(`${SVC}/error_note`)?.isDeleted).toBe(true); // soft: its history says what was wrong
    expect(h.schemaFacts()).toHaveLength(1);
  });

  it('notices a field hard-removed from a valid record (tree.remove, as the transport manager does)', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService());
    h.rt.step();
    h.tree.remove(`${SVC}/provider`);
    const report = h.rt.step();
    expect(report.organRuns).toBe(1); // the heartbeat's organ pass, nothing of ours
    expect(report.signals).toBe(0);
    expect(textAt(h.tree, `${SVC}/error_note`)).toBe(`missing field 'provider' (text)`);
    expect(h.schemaFacts().map((f) => f.note)).toEqual([`peer 'saturn' service 'main': missing field 'provider' (text)`]);
  });

  it('does not repeat a fact while the same problem stands, but reports a different one', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', validService({ mode: undefined }));
    h.rt.step();
    writeService(h.tree, 'saturn', 'other', validService()); // revalidates the whole peer
    h.rt.step();
    expect(h.schemaFacts()).toHaveLength(1);
    h.tree.set(`${SVC}/mount`, u64(3n));
    h.rt.step();
    expect(h.schemaFacts().map((f) => f.note)).toEqual([
      `peer 'saturn' service 'main': missing field 'mode' (text)`,
      `peer 'saturn' service 'main': missing field 'mode' (text); field 'mount' must be text, found u64`,
    ]);
  });

  it('ignores fields outside the schema', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'main', { ...validService(), mount_path: text('/net/mounts/saturn/link/main'), extra: u64(1n) });
    h.rt.step();
    expect(h.facts).toEqual([]);
  });

  it('uses the severity option', () => {
    const h = harness({ severity: 'warn' });
    writeService(h.tree, 'saturn', 'main', validService({ mode: undefined }));
    h.rt.step();
    expect(h.schemaFacts()[0]!.severity).toBe('warn');
    expect(textAt(h.tree, '/net/peers/saturn/ceh/tp_schema/severity')).toBe('warn');
  });

  it('refuses a service that is a value, with the note on the peer', () => {
    const h = harness();
    h.tree.set('/net/peers/saturn/services/main', text('link'));
    h.rt.step();
    expect(textAt(h.tree, '/net/peers/saturn/error_note')).toBe(`service 'main': a service must be a dictionary, found text`);
    expect(h.schemaFacts()).toHaveLength(1);
  });

  it('checkService is usable on its own', () => {
    const t = createTree();
    writeService(t, 'saturn', 'main', validService({ provider: undefined }));
    expect(checkService(t, t.get(SVC)!)).toEqual([`missing field 'provider' (text)`]);
  });
});

describe('discovery: CEP word limits on names', () => {
  it('refuses a peer whose name is over the word limit; its services are not judged one by one', () => {
    const h = harness();
    writeService(h.tree, 'saturn-primary', 'main', validService({ mode: undefined }));
    h.rt.step();
    const note = `peer name is not a CEP word: it has 14 characters (a word has at most 11)`;
    expect(textAt(h.tree, '/net/peers/saturn-primary/error_note')).toBe(note);
    expect(h.schemaFacts().map((f) => f.note)).toEqual([`peer 'saturn-primary': ${note}`]);
    expect(h.tree.get('/net/peers/saturn-primary/services/main/error_note')).toBeUndefined();
  });

  it('refuses a service whose name is not a word (over the limit, or upper case)', () => {
    const h = harness();
    writeService(h.tree, 'saturn', 'telemetry_gauges', validService());
    writeService(h.tree, 'saturn', 'MAIN', validService());
    h.rt.step();
    expect(textAt(h.tree, '/net/peers/saturn/services/telemetry_gauges/error_note')).toBe(
      'service name is not a CEP word: it has 16 characters (a word has at most 11)',
    );
    expect(textAt(h.tree, '/net/peers/saturn/services/MAIN/error_note')).toMatch(/^service name is not a CEP word: /);
    expect(h.schemaFacts()).toHaveLength(2);
  });

  it('accepts names of exactly 11 characters', () => {
    const h = harness();
    writeService(h.tree, 'saturn_moon', 'service_abc', validService({ local_node: text('earth_nodes') }));
    h.rt.step();
    expect(h.facts).toEqual([]);
  });
});
