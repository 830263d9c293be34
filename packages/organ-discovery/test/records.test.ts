import { createTree, parsePath, text, u64 } from '@cep/cells';
import { createRuntime, organStore } from '@cep/heartbeat';
import { describe, expect, it } from 'vitest';
import { checkInstall, checkRecord, checkRecords, type CheckEnv, type RecordSchema } from '@cep/organ-discovery/records';

/** A record type that is not discovery's own, as another organ would declare it. */
const GAUGE: RecordSchema = {
  noun: 'gauge',
  nameNoun: 'gauge',
  fields: [
    { name: 'level', type: 'u64', meaning: 'the level' },
    { name: 'unit', type: 'text', word: true, meaning: 'the unit' },
  ],
};

describe('@cep/organ-discovery/records (the shared record checks)', () => {
  it('checks a record of any schema: name, shape, fields in schema order', () => {
    const t = createTree();
    t.set('/g/tank/level', text('high'));
    t.set('/g/tank/unit', text('Litres per second'));
    expect(checkRecord(t, t.get('/g/tank')!, GAUGE)).toEqual([
      `field 'level' must be u64, found text`,
      `field 'unit' ('Litres per second') is not a CEP word: it has 17 characters (a word has at most 11)`,
    ]);
    t.set('/g/very_long_name', u64(1n));
    expect(checkRecord(t, t.get('/g/very_long_name')!, GAUGE)).toEqual([
      'gauge name is not a CEP word: it has 14 characters (a word has at most 11)',
      'a gauge must be a dictionary, found u64',
    ]);
  });

  it('checkRecords publishes each verdict on its record and returns what the container must carry', () => {
    const rt = createRuntime();
    const notes: string[] = [];
    rt.cei.onFact((f) => notes.push(f.note));
    const env: CheckEnv = { tree: rt.tree, cei: rt.cei, severity: 'warn', origin: 'test' };
    rt.tree.set('/g/tank/level', u64(3n));
    rt.tree.set('/g/spare', u64(0n));
    rt.tree.ensureDictionary('/g/empty');
    const forContainer = checkRecords(env, rt.tree.get('/g')!, GAUGE, `site 'north'`, undefined);
    expect(forContainer).toEqual([`gauge 'spare': a gauge must be a dictionary, found u64`]);
    expect(rt.tree.getValue('/g/tank/error_note')).toEqual(text(`missing field 'unit' (text)`));
    expect(notes).toEqual([`site 'north' gauge 'tank': missing field 'unit' (text)`]);
    expect(rt.tree.find('/g/empty')).toBeUndefined();
  });

  it('checkInstall throws with the codes the calling package chose, and writes nothing', () => {
    const codes = { option: 'MY_OPTION', root: 'MY_ROOT' } as const;
    const root = parsePath('/net/gauges');
    const tree = createTree();
    expect(checkInstall(tree, root, 'gauges', 'warn', codes)).toEqual(organStore('gauges'));
    expect(tree.find(root)).toBeUndefined();
    expect(() => checkInstall(tree, root, 'gauges', 'info', codes)).toThrow(expect.objectContaining({ code: 'MY_OPTION' }));
    expect(() => checkInstall(tree, root, '', 'warn', codes)).toThrow(expect.objectContaining({ code: 'MY_OPTION' }));
    tree.ensureDictionary(root, organStore('other'));
    expect(() => checkInstall(tree, root, 'gauges', 'warn', codes)).toThrow(expect.objectContaining({ code: 'MY_ROOT' }));
  });
});
