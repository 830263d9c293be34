import { describe, expect, it } from 'vitest';
import { bool, createTree, text, u64 } from '@cep/cells';
import { isRequestProblem, readMountRequest } from '@cep/transport';

function request(fields: Record<string, ReturnType<typeof text>>) {
  const tree = createTree();
  tree.ensureDictionary('/r/x');
  for (const [path, value] of Object.entries(fields)) tree.set(`/r/x/${path}`, value);
  return tree.get('/r/x')!;
}

describe('readMountRequest', () => {
  it('reads every field of a link request', () => {
    const read = readMountRequest(
      request({
        peer: text('saturn'),
        mount: text('main'),
        mode: text('link'),
        local_node: text('earth'),
        pref_prov: text('tcp'),
        allow_upd: bool(false),
        deadline: u64(40n),
        'caps/required/reliable': bool(true),
        'caps/required/ordered': bool(false),
        'caps/preferred/low_latency': bool(true),
        'caps/upd_latest': bool(false),
        'serializer/crc32c_ok': bool(true),
        'serializer/aead_ok': bool(false),
        'serializer/cmp_max_ver': u64(1n),
      }),
    );
    expect(read).toEqual({
      deadline: 40,
      spec: {
        peer: 'saturn',
        mount: 'main',
        mode: 'link',
        localNode: 'earth',
        prefProv: 'tcp',
        allowUpd: false,
        caps: { required: ['reliable'], preferred: ['low_latency'], updLatest: false },
        serializer: { crc32c: true, aead: false, cmpMaxVer: 1 },
      },
    });
  });

  it('names the field that is missing, mistyped or not a word', () => {
    const cases: Array<[Record<string, ReturnType<typeof text>>, string]> = [
      [{ mount: text('main'), mode: text('link'), local_node: text('earth') }, 'peer'],
      [{ peer: u64(1n), mount: text('main'), mode: text('link'), local_node: text('earth') }, 'peer'],
      [{ peer: text('saturn'), mount: text('way_too_long_name'), mode: text('link'), local_node: text('earth') }, 'mount'],
      [{ peer: text('saturn'), mount: text('main'), mode: text('link'), local_node: text('earth'), deadline: text('soon') }, 'deadline'],
      [
        { peer: text('saturn'), mount: text('main'), mode: text('link'), local_node: text('earth'), 'caps/required/reliable': text('yes') },
        'caps/required/reliable',
      ],
      [{ peer: text('saturn'), mount: text('main'), mode: text('link'), local_node: text('earth'), 'serializer/warn_down': u64(0n) }, 'serializer/warn_down'],
    ];
    for (const [fields, name] of cases) {
      const read = readMountRequest(request(fields));
      expect(isRequestProblem(read) && read.field).toBe(name);
      expect(isRequestProblem(read) && read.note.startsWith(`${name}:`)).toBe(true);
    }
  });

  it('uses the defaults for mode and local node', () => {
    const read = readMountRequest(request({ peer: text('saturn'), mount: text('main') }), { mode: 'invoke', localNode: 'earth' });
    expect(!isRequestProblem(read) && read.spec).toMatchObject({ mode: 'invoke', localNode: 'earth' });
  });
});
