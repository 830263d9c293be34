import { isCepError } from '@cep/errors';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, validateConfig } from '../src/config/load.ts';
import { KEY_HEX, minimalConfig, tempDir } from './helpers/files.ts';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => tmp.cleanup());

/** Validates `doc` written as peer.yaml and returns the error's lines (fails the test if it is accepted). */
function problems(doc: unknown, file = 'peer.yaml'): string[] {
  const path = tmp.write(file, file.endsWith('.json') ? JSON.stringify(doc) : stringify(doc));
  try {
    loadConfig(path);
  } catch (error) {
    if (!isCepError(error, 'CONFIG_INVALID')) throw error;
    const lines = error.message.split('\n');
    for (const line of lines) expect(line.startsWith(`${path}: `)).toBe(true);
    return lines.map((l) => l.slice(path.length + 2));
  }
  throw new Error('the config was accepted');
}

const saturnKey = { saturn: { hex: KEY_HEX } };
const saturnPeer = { name: 'saturn', provider: 'tcp', address: '127.0.0.1:7100' };

describe('config validation names the field and the file', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a missing peer name', { enclave: 'lab' }, 'peer: missing (expected string)'],
    ['a peer name that is not a CEP word', minimalConfig({ peer: 'Earth' }), 'peer: "Earth" is not a CEP word'],
    ['a peer name longer than a word', minimalConfig({ peer: 'averyverylongname' }), 'peer: "averyverylongname" is not a CEP word'],
    ['a pattern as a name', minimalConfig({ enclave: 'la*' }), 'enclave: "la*" is not a CEP word'],
    ['a beat period that is text', minimalConfig({ beat_ms: 'fast' }), 'beat_ms: expected number, got string'],
    ['a beat period of zero', minimalConfig({ beat_ms: 0 }), 'beat_ms: expected at least 1'],
    ['an unknown log level', minimalConfig({ log_level: 'loud' }), 'log_level: expected one of'],
    ['an unknown top-level field', minimalConfig({ listne: {} }), 'listne: unknown field'],
    ['an http port out of range', minimalConfig({ http: { port: 70000 } }), 'http.port: expected at most 65535'],
    ['a tcp listen address without a port', minimalConfig({ listen: { tcp: '127.0.0.1' } }), 'listen.tcp: expected host:port'],
    ['an unknown provider in listen', minimalConfig({ listen: { ftp: '1.2.3.4:5' } }), 'listen.ftp: unknown field'],
    [
      'a peer address that is not host:port',
      minimalConfig({ keys: { ...saturnKey, mars: { hex: KEY_HEX } }, peers: [saturnPeer, { name: 'mars', provider: 'tcp', address: 'nowhere' }] }),
      'peers[1].address: expected host:port',
    ],
    [
      'a peer with an unknown provider',
      minimalConfig({ keys: saturnKey, peers: [{ ...saturnPeer, provider: 'ftp' }] }),
      'peers[0].provider: "ftp" is not a provider: use one of tcp, pipe, udp, nats',
    ],
    [
      'a peer reached over udp',
      minimalConfig({ keys: saturnKey, peers: [{ ...saturnPeer, provider: 'udp', address: '127.0.0.1:7001' }] }),
      'peers[0].provider: udp carries only droppable gauges',
    ],
    ['a peer without an address', minimalConfig({ keys: saturnKey, peers: [{ name: 'saturn', provider: 'tcp' }] }), 'peers[0].address: missing'],
    ['peers that are not a list', minimalConfig({ peers: { saturn: 1 } }), 'peers: expected a list, got a mapping'],
    ['a peer without a key', minimalConfig({ peers: [saturnPeer] }), 'peers[0].name: no key for peer "saturn": add keys.saturn'],
    [
      'a peer linking to itself',
      minimalConfig({ keys: { earth: { hex: KEY_HEX } }, peers: [{ ...saturnPeer, name: 'earth' }] }),
      'peers[0].name: "earth" is this peer\'s own name',
    ],
    ['the same peer mount twice', minimalConfig({ keys: saturnKey, peers: [saturnPeer, saturnPeer] }), 'peers[1].name: "saturn" mount "main" is listed twice'],
    ['a short hex key', minimalConfig({ keys: { saturn: { hex: '0001' } } }), 'keys.saturn.hex: expected a 32-byte key, got 2 bytes'],
    ['a key that is not hex', minimalConfig({ keys: { saturn: { hex: 'zz' } } }), 'keys.saturn.hex: expected hex digits'],
    ['a key that is not base64', minimalConfig({ keys: { saturn: { base64: '!!!' } } }), 'keys.saturn.base64: expected base64'],
    [
      'a key given two ways',
      minimalConfig({ keys: { saturn: { hex: KEY_HEX, base64: 'AAAA' } } }),
      'keys.saturn: expected exactly one of hex, base64 or file, got hex and base64',
    ],
    ['a key file that does not exist', minimalConfig({ keys: { saturn: { file: 'missing.key' } } }), 'keys.saturn.file: cannot read key file'],
    ['a key under a name that is not a word', minimalConfig({ keys: { Saturn: { hex: KEY_HEX } } }), 'keys.Saturn: "Saturn" is not a CEP word'],
    [
      'a mirror whose source peer is not linked',
      minimalConfig({ mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/sky' }] }),
      'mirrors[0].source.peer: "saturn" is not listed under peers',
    ],
    [
      'a mirror with a relative source path',
      minimalConfig({ keys: saturnKey, peers: [saturnPeer], mirrors: [{ name: 'sky', source: { peer: 'saturn', path: 'data/sky' }, target: '/data/sky' }] }),
      'mirrors[0].source.path: expected an absolute cell path',
    ],
    [
      'a mirror with an unknown commit mode',
      minimalConfig({
        keys: saturnKey,
        peers: [saturnPeer],
        mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/sky', bundle: { commit_mode: 'later' } }],
      }),
      'mirrors[0].bundle.commit_mode: expected one of',
    ],
    [
      'a mirror window of zero beats',
      minimalConfig({
        keys: saturnKey,
        peers: [saturnPeer],
        mirrors: [{ name: 'sky', source: { peer: 'saturn', path: '/data/sky' }, target: '/data/sky', bundle: { beat_window: 0 } }],
      }),
      'mirrors[0].bundle.beat_window: expected at least 1',
    ],
    ['an invoke handler without a module', minimalConfig({ invoke: [{ name: 'add' }] }), 'invoke[0].module: missing'],
    [
      'two invoke handlers with one name',
      minimalConfig({
        invoke: [
          { name: 'add', module: 'a.mjs' },
          { name: 'add', module: 'b.mjs' },
        ],
      }),
      'invoke[1].name: "add" is used twice',
    ],
    ['a security policy that is not a mapping', minimalConfig({ security: 'open' }), 'security: expected a mapping, got string'],
  ];
  it.each(cases)('rejects %s', (_what, doc, expected) => {
    const lines = problems(doc);
    expect(
      lines.some((line) => line.startsWith(expected)),
      `got:\n${lines.join('\n')}`,
    ).toBe(true);
  });

  it('reports every problem of a file at once, one line each', () => {
    const lines = problems(minimalConfig({ peer: 'Earth', beat_ms: 'x', bogus: 1 }));
    expect(lines.map((l) => l.split(':')[0])).toEqual(expect.arrayContaining(['peer', 'beat_ms', 'bogus']));
  });

  it('reports cross-section problems together with field problems', () => {
    const lines = problems(minimalConfig({ beat_ms: 'x', peers: [{ name: 'saturn', provider: 'tcp', address: 'nowhere' }] }));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^beat_ms: /),
        expect.stringMatching(/^peers\[0\]\.address: expected host:port/),
        'peers[0].name: no key for peer "saturn": add keys.saturn',
      ]),
    );
  });

  it('names a JSON file the same way', () => {
    const lines = problems(minimalConfig({ beat_ms: -1 }), 'peer.json');
    expect(lines[0]).toMatch(/^beat_ms: expected at least 1/);
  });

  it('names the file and the line of a YAML syntax error', () => {
    const path = tmp.write('peer.yaml', 'peer: earth\nenclave: [lab\n');
    expect(() => loadConfig(path)).toThrow(
      expect.objectContaining({ code: 'CONFIG_PARSE_FAILED', message: expect.stringMatching(new RegExp(`^${path}:\\d+:\\d+: not valid YAML`)) }),
    );
  });

  it('refuses a YAML mapping with a key given twice', () => {
    const path = tmp.write('peer.yaml', 'peer: earth\npeer: mars\nenclave: lab\n');
    expect(() => loadConfig(path)).toThrow(expect.objectContaining({ code: 'CONFIG_PARSE_FAILED' }));
  });

  it('names the file of a JSON syntax error', () => {
    const path = tmp.write('peer.json', '{ "peer": ');
    expect(() => loadConfig(path)).toThrow(
      expect.objectContaining({ code: 'CONFIG_PARSE_FAILED', message: expect.stringContaining(`${path}: not valid JSON`) }),
    );
  });

  it('names a config file that cannot be read', () => {
    const path = `${tmp.dir}/absent.yaml`;
    expect(() => loadConfig(path)).toThrow(expect.objectContaining({ code: 'CONFIG_READ_FAILED', message: expect.stringContaining(`${path}: cannot read`) }));
  });
});

describe('a valid config', () => {
  it('fills in the defaults', () => {
    const config = validateConfig(minimalConfig(), 'peer.yaml', tmp.dir);
    expect(config).toMatchObject({
      log_level: 'info',
      beat_ms: 10,
      http: { host: '127.0.0.1', port: 9464 },
      peers: [],
      mirrors: [],
      invoke: [],
      security: { approve: [] },
    });
  });

  it('decodes hex, base64 and key files (hex text or raw bytes) to the same key', () => {
    const key = Buffer.from(KEY_HEX, 'hex');
    tmp.write('saturn.key', `${KEY_HEX}\n`);
    tmp.write('mars.bin', key);
    const config = validateConfig(
      minimalConfig({
        keys: {
          saturn: { file: 'saturn.key' },
          mars: { file: 'mars.bin', encoding: 'raw' },
          venus: { base64: key.toString('base64') },
          jupiter: { hex: KEY_HEX.toUpperCase() },
        },
      }),
      'peer.yaml',
      tmp.dir,
    );
    for (const name of ['saturn', 'mars', 'venus', 'jupiter']) expect(Buffer.from(config.keys[name]!).equals(key)).toBe(true);
  });

  it('resolves relative handler modules and pipe paths against the config folder', () => {
    const config = validateConfig(
      minimalConfig({
        keys: { saturn: { hex: KEY_HEX } },
        listen: { pipe: 'earth.sock' },
        peers: [{ name: 'saturn', provider: 'pipe', address: 'saturn.sock' }],
        invoke: [{ name: 'add', module: 'handlers/add.mjs' }],
      }),
      'peer.yaml',
      tmp.dir,
    );
    expect(config.listen.pipe).toBe(`${tmp.dir}/earth.sock`);
    expect(config.peers[0]!.address).toBe(`${tmp.dir}/saturn.sock`);
    expect(config.invoke[0]!.module).toBe(`${tmp.dir}/handlers/add.mjs`);
    expect(config.peers[0]!.mount).toBe('main');
  });

  it("turns the security section into @cep/security's PolicyConfig (budgets in its field names) and the approve list", () => {
    const security = {
      enclaves: { lab: {}, ops: { tier: 1 }, dmz: null },
      edges: [{ from: 'lab', to: 'ops', budgets: { beats: 8, cpu_ns: 5_000_000, io_bytes: 65_536, hops: 3, wall_ms: 500 } }],
      defaults: { beats: 400 },
      pipelines: [
        {
          id: 'nightly',
          stages: [
            { id: 'fetch', enclave: 'lab' },
            { id: 'crunch', enclave: 'ops', gateway: '/sig/add' },
          ],
          ceilings: { hops: 2 },
        },
      ],
      approve: ['nightly'],
    };
    const config = validateConfig(minimalConfig({ security, keys: saturnKey, peers: [{ ...saturnPeer, enclave: 'ops' }] }), 'peer.yaml', tmp.dir);
    expect(config.security).toEqual({
      enclaves: { lab: {}, ops: { tier: 1 }, dmz: {} },
      edges: [{ from: 'lab', to: 'ops', budgets: { beats: 8, cpuNs: 5_000_000, ioBytes: 65_536, hops: 3, wallMs: 500 } }],
      defaults: { beats: 400 },
      pipelines: [
        {
          id: 'nightly',
          stages: [
            { id: 'fetch', enclave: 'lab' },
            { id: 'crunch', enclave: 'ops', gateway: '/sig/add' },
          ],
          ceilings: { hops: 2 },
        },
      ],
      approve: ['nightly'],
    });
    expect(config.peers[0]!.enclave).toBe('ops');
  });
});

describe('the security section: errors name security.<field> and the file', () => {
  const base = { enclaves: { lab: {}, ops: {} } };
  const twoStages = {
    id: 'p',
    stages: [
      { id: 'a', enclave: 'lab' },
      { id: 'b', enclave: 'ops' },
    ],
  };
  const cases: [string, Record<string, unknown>, string][] = [
    [
      'an edge to an enclave not declared',
      { ...base, edges: [{ from: 'lab', to: 'mars' }] },
      'security.edges[0].to: enclave "mars" is not declared under security.enclaves',
    ],
    ['an enclave name that is not a CEP word (the package says so)', { enclaves: { lab: {}, Ops: {} } }, 'security.enclaves.Ops: must be a CEP word'],
    ['a tier out of range', { enclaves: { lab: { tier: 12 } } }, 'security.enclaves.lab.tier: must be 0..9, got 12'],
    [
      'a negative edge budget, named as the file names it',
      { ...base, edges: [{ from: 'lab', to: 'ops', budgets: { cpu_ns: -1 } }] },
      'security.edges[0].budgets.cpu_ns: must be a whole number ≥ 0, got -1',
    ],
    ['a fractional default budget', { ...base, defaults: { wall_ms: 1.5 } }, 'security.defaults.wall_ms: must be a whole number ≥ 0, got 1.5'],
    ['a budget that is text', { ...base, defaults: { beats: 'many' } }, 'security.defaults.beats: expected number, got string'],
    ['an unknown budget', { ...base, defaults: { cpu: 1 } }, 'security.defaults.cpu: unknown field'],
    ['a pipeline without stages', { ...base, pipelines: [{ id: 'p', stages: [] }] }, 'security.pipelines[0].stages: must list at least one stage'],
    [
      'a stage id given twice',
      {
        ...base,
        pipelines: [
          {
            id: 'p',
            stages: [
              { id: 'a', enclave: 'lab' },
              { id: 'a', enclave: 'lab' },
            ],
          },
        ],
      },
      'security.pipelines[0].stages[1].id: "a" repeats',
    ],
    [
      'a stage in an enclave not declared',
      { ...base, pipelines: [{ id: 'p', stages: [{ id: 'a', enclave: 'mars' }] }] },
      'security.pipelines[0].stages[0].enclave: enclave "mars" is not declared',
    ],
    [
      'approving a pipeline nobody declared',
      { ...base, pipelines: [twoStages], approve: ['q'] },
      'security.approve[0]: no pipeline "q" under security.pipelines',
    ],
    [
      'approving a pipeline whose hop is not a declared edge',
      { ...base, pipelines: [twoStages], approve: ['p'] },
      'security.approve[0]: pipeline "p" cannot be approved: hop lab -> ops (stage b) is not a declared edge',
    ],
    [
      'the old edge shape (pipelines on an edge)',
      { ...base, edges: [{ from: 'lab', to: 'ops', pipelines: ['p'] }] },
      'security.edges[0].pipelines: unknown field',
    ],
    ["this peer's enclave not declared", { enclaves: { ops: {} } }, 'enclave: "lab" is not declared under security.enclaves'],
  ];
  it.each(cases)('rejects %s', (_what, security, expected) => {
    const lines = problems(minimalConfig({ security }));
    expect(
      lines.some((line) => line.startsWith(expected)),
      `got:\n${lines.join('\n')}`,
    ).toBe(true);
  });

  it("checks each peer's enclave: a CEP word, declared when enclaves are, one per peer", () => {
    expect(problems(minimalConfig({ keys: saturnKey, peers: [{ ...saturnPeer, enclave: 'Ops' }] }))).toEqual([
      expect.stringMatching(/^peers\[0\]\.enclave: "Ops" is not a CEP word/),
    ]);
    expect(problems(minimalConfig({ security: base, keys: saturnKey, peers: [{ ...saturnPeer, enclave: 'dmz' }] }))).toEqual([
      'peers[0].enclave: "dmz" is not declared under security.enclaves',
    ]);
    expect(
      problems(
        minimalConfig({
          keys: saturnKey,
          peers: [
            { ...saturnPeer, enclave: 'ops' },
            { ...saturnPeer, mount: 'aux' },
          ],
        }),
      ),
    ).toEqual(['peers[1].enclave: "saturn" is listed before in enclave "ops"; a peer has one enclave']);
  });
});

describe('peer_policy: unlisted peers and AEAD downgrades are explicit', () => {
  it('defaults to no default enclave and AEAD required for every keyed peer', () => {
    const config = validateConfig(minimalConfig({ keys: saturnKey }), 'peer.yaml', tmp.dir);
    expect(config.peer_policy).toEqual({ aead: {} });
  });

  it('accepts a default enclave and per-peer aead modes', () => {
    const config = validateConfig(
      minimalConfig({ keys: saturnKey, peer_policy: { default_enclave: 'guests', aead: { saturn: 'optional' } } }),
      'peer.yaml',
      tmp.dir,
    );
    expect(config.peer_policy).toEqual({ default_enclave: 'guests', aead: { saturn: 'optional' } });
  });

  const cases: [string, Record<string, unknown>, string][] = [
    [
      'a default enclave that is not a word',
      { keys: saturnKey, peer_policy: { default_enclave: 'Guests' } },
      'peer_policy.default_enclave: "Guests" is not a CEP word',
    ],
    [
      'a default enclave the security section does not declare',
      { keys: saturnKey, security: { enclaves: { lab: {} } }, peer_policy: { default_enclave: 'guests' } },
      'peer_policy.default_enclave: "guests" is not declared under security.enclaves',
    ],
    [
      'an aead mode other than required or optional',
      { keys: saturnKey, peer_policy: { aead: { saturn: 'off' } } },
      'peer_policy.aead.saturn: expected one of "required", "optional", got "off"',
    ],
    [
      'an aead mode for a peer without a key',
      { keys: saturnKey, peer_policy: { aead: { mars: 'optional' } } },
      'peer_policy.aead.mars: no key for peer "mars"',
    ],
    ['an unknown peer_policy field', { keys: saturnKey, peer_policy: { unlisted: 'allow' } }, 'peer_policy.unlisted: unknown field'],
  ];
  it.each(cases)('rejects %s', (_what, doc, expected) => {
    const lines = problems(minimalConfig(doc));
    expect(
      lines.some((line) => line.startsWith(expected)),
      `got:\n${lines.join('\n')}`,
    ).toBe(true);
  });
});
