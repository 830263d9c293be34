import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isCepError } from '@cep/errors';
import { KEY_HEX } from './helpers/files.ts';
import { validateConfig } from '../src/config/load.ts';
import type { Peer } from '../src/peer.ts';
import { livePeers } from './helpers/live-peers.ts';

// The timeout of POST /invoke: the body's `timeout_beats`, else the config's `invoke_timeout_beats`.
// saturn accepts the calls at its provider but never beats, so each call waits out its timeout on
// earth (which beats on its own driver) and its record shows the deadline it was given.

const ADD = fileURLToPath(new URL('../examples/handlers/add.mjs', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const INVOKES = '/net/organs/invoke/requests/saturn/invokes';

const { start, until } = livePeers(HERE);

const post = (peer: Peer, body: Record<string, unknown>) =>
  fetch(`${peer.httpUrl}/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ peer: 'saturn', handler: 'add', arg: '41', ...body }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as { id?: string; status?: string; error?: { code: string; message: string } } }));

/** Beats between a call's start and its deadline, from its invoke record. */
function waited(peer: Peer, id: string): bigint {
  const at = (field: string) => peer.tree.getValue(`${INVOKES}/${id}/${field}`)?.value as bigint;
  return at('deadline') - at('sent_beat');
}

async function pair(earthDoc: Record<string, unknown>): Promise<Peer> {
  const saturn = await start(
    {
      peer: 'saturn',
      keys: { earth: { hex: KEY_HEX } },
      peer_policy: { default_enclave: 'lab' },
      listen: { tcp: '127.0.0.1:0' },
      invoke: [{ name: 'add', module: ADD }],
    },
    true,
  );
  const earth = await start(
    {
      peer: 'earth',
      beat_ms: 2,
      keys: { saturn: { hex: KEY_HEX } },
      peers: [{ name: 'saturn', provider: 'tcp', address: saturn.transport.listening['tcp'] }],
      ...earthDoc,
    },
    false,
  );
  await until(() => earth.tree.getValue('/net/organs/invoke/requests/saturn/state')?.value === 'active', "earth's invoke request to go active");
  return earth;
}

describe('POST /invoke timeout', () => {
  it('waits the body’s timeout_beats, or the config’s invoke_timeout_beats when the body names none, then answers timeout', async () => {
    const earth = await pair({ invoke_timeout_beats: 7 });
    const named = await post(earth, { timeout_beats: 3 });
    expect(named).toMatchObject({ status: 200, body: { status: 'timeout' } });
    expect(waited(earth, named.body.id!)).toBe(3n);
    const asString = await post(earth, { timeout_beats: '4' });
    expect(asString.body.status).toBe('timeout');
    expect(waited(earth, asString.body.id!)).toBe(4n);
    const byDefault = await post(earth, {});
    expect(byDefault).toMatchObject({ status: 200, body: { status: 'timeout' } });
    expect(waited(earth, byDefault.body.id!)).toBe(7n);
  });

  it('a bad timeout_beats is a typed 400 and no call is made', async () => {
    const earth = await pair({});
    for (const bad of [0, -1, 1.5, '2x', '', 1_000_001, null, true, [3]]) {
      const answer = await post(earth, { timeout_beats: bad });
      expect(answer, JSON.stringify(bad)).toMatchObject({
        status: 400,
        body: { error: { code: 'BAD_INVOKE', message: expect.stringMatching(/^timeout_beats must be/) } },
      });
    }
    expect(earth.tree.get(INVOKES)?.children() ?? []).toHaveLength(0);
  });

  it('the config refuses an invoke_timeout_beats that is not a whole number in 1..1000000, and defaults it to 200', () => {
    for (const bad of [0, 2.5, 1_000_001, '10']) {
      let error: unknown;
      try {
        validateConfig({ peer: 'earth', enclave: 'lab', invoke_timeout_beats: bad }, 'peer.yaml', HERE);
      } catch (e) {
        error = e;
      }
      expect(isCepError(error, 'CONFIG_INVALID'), JSON.stringify(bad)).toBe(true);
      expect((error as Error).message).toContain('invoke_timeout_beats');
    }
    expect(validateConfig({ peer: 'earth', enclave: 'lab' }, 'peer.yaml', HERE).invoke_timeout_beats).toBe(200);
  });
});
