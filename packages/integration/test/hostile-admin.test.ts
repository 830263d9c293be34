/**
 * A real `cep-node` process against what a hostile web page or a hostile peer would try:
 * the admin HTTP endpoint driven cross-site or through a rebound host name, bad requests
 * that must be typed 4xx answers, and mirrors of branches a peer keeps for itself.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { RunningPeer } from './harness/peer-process.ts';
import { KEY, SKY, ceh, peerConfig, until, withPeers } from './support/federation.ts';

interface Answer {
  readonly status: number;
  readonly body: any;
}

/** One request with exactly these headers (fetch will not send a foreign Host). */
function call(peer: RunningPeer, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const url = new URL(peer.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: Number(url.port), method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the admin endpoint of a running peer', () => {
  it(
    'refuses a cross-site form POST, a rebound Host and a foreign Origin before any handler runs; bad bodies are typed 400s',
    withPeers(30_000, async (harness) => {
      const saturn = await harness.start(harness.writeConfig('saturn.json', peerConfig('saturn')));
      const earth = await harness.start(
        harness.writeConfig(
          'earth.json',
          peerConfig('earth', {
            keys: { saturn: { hex: KEY } },
            peers: [{ name: 'saturn', provider: 'tcp', address: '127.0.0.1:1' }],
          }),
        ),
      );
      const invoke = JSON.stringify({ peer: 'saturn', handler: 'add', arg: '41' });
      // What an HTML form on another site sends: text/plain, a foreign Origin, Sec-Fetch-Site cross-site.
      expect(
        await call(earth, 'POST', '/invoke', { 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, invoke),
      ).toMatchObject({ status: 403, body: { error: { code: 'CROSS_SITE_REQUEST' } } });
      expect(await call(earth, 'POST', '/invoke', { 'content-type': 'text/plain' }, invoke)).toMatchObject({
        status: 415,
        body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE' } },
      });
      // DNS rebinding: the page's own name, pointed at 127.0.0.1.
      expect(await call(earth, 'GET', '/net?path=/net', { host: 'evil.example' })).toMatchObject({
        status: 421,
        body: { error: { code: 'HOST_NOT_ALLOWED' } },
      });
      // None of it reached the invoke organ: earth submitted no invoke.
      expect((await earth.net('/net/organs/invoke/requests/saturn')).value.invokes).toBeUndefined();

      const json = { 'content-type': 'application/json' };
      expect(await call(earth, 'POST', '/invoke', json, 'null')).toMatchObject({ status: 400, body: { error: { code: 'BAD_INVOKE' } } });
      expect(await call(earth, 'POST', '/mirror/%E0%A4%A/commit', json)).toMatchObject({ status: 400, body: { error: { code: 'BAD_PATH' } } });
      expect(await call(earth, 'POST', '/invoke', json, '{"peer":"saturn","handler":"add","arg":18446744073709551615}')).toMatchObject({
        status: 400,
        body: { error: { code: 'UNSAFE_NUMBER' } },
      });
      // Still serving, and nothing crashed.
      expect(earth.running && saturn.running).toBe(true);
      expect(earth.logs.some((l) => l['msg'] === 'http request failed')).toBe(false);
    }),
  );

  it(
    'refuses at start an endpoint bound beyond loopback without a token: exit 3 naming http.token',
    withPeers(20_000, async (harness) => {
      const peer = harness.spawn(harness.writeConfig('open.json', peerConfig('earth', { http: { host: '0.0.0.0', port: 0 } })));
      expect(await peer.waitForExit()).toEqual({ code: 3, signal: null });
      expect(peer.stderr()).toMatch(/open\.json: http\.token: required when http\.host is not a loopback address/);
    }),
  );

  it(
    'an empty config file and a YAML alias bomb exit 3 with a file: field: line, no stack trace',
    withPeers(20_000, async (harness) => {
      const bomb = [
        'a: &a [x,x,x,x,x,x,x,x,x]',
        ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`),
        'peer: earth',
        'enclave: lab',
      ].join('\n');
      for (const [name, text, line] of [
        ['empty.yaml', '', '(root): expected a mapping'],
        ['bomb.yaml', bomb, '(root): not a usable YAML document'],
      ] as const) {
        const peer = harness.spawn(harness.writeConfig(name, text));
        expect(await peer.waitForExit()).toEqual({ code: 3, signal: null });
        expect(peer.stderr()).toContain(`${name}: ${line}`);
        expect(peer.stderr()).not.toMatch(/\n\s+at /);
      }
    }),
  );
});

describe('branch access between peers', () => {
  it(
    "a keyed peer cannot mirror saturn's /sys/security, /net or a branch saturn does not export; an exported one mirrors",
    withPeers(40_000, async (harness) => {
      const saturnFile = harness.writeConfig(
        'saturn.json',
        peerConfig('saturn', {
          keys: { earth: { hex: KEY } },
          peer_policy: { default_enclave: 'lab' },
          listen: { tcp: '127.0.0.1:0' },
          exports: [SKY],
        }),
      );
      const saturn = await harness.start(saturnFile);
      const address = String((await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === 'tcp'))['address']);
      const mirror = (name: string, path: string) => ({
        name,
        source: { peer: 'saturn', path },
        target: `/data/from/${name}`,
        bundle: { beat_window: 1, max_infl: 8, commit_mode: 'stream' },
      });
      const earth = await harness.start(
        harness.writeConfig(
          'earth.json',
          peerConfig('earth', {
            keys: { saturn: { hex: KEY } },
            peers: [{ name: 'saturn', provider: 'tcp', address }],
            mirrors: [mirror('policy', '/sys/security'), mirror('net', '/net'), mirror('hidden', '/data/hidden'), mirror('sky', SKY)],
          }),
        ),
      );
      const requests = async () => (await earth.net('/net/organs/mirror/requests')).value as Record<string, Record<string, string>>;
      const settled = await until(
        requests,
        (r) => ['1', '2', '3'].every((id) => r[id]?.state === 'error') && r['4']?.state === 'active',
        'the three refused mirrors to fail and the exported one to go active',
      );
      expect(settled['1']!.error_note).toBe('the source refused: /sys/security is not published to earth');
      expect(settled['2']!.error_note).toBe('the source refused: /net is not published to earth');
      expect(settled['3']!.error_note).toBe('the source refused: /data/hidden is not published to earth');
      // Saturn recorded each refusal as a typed CEI fact for earth; nothing of its policy left.
      expect((await ceh(saturn, 'earth'))['tp_schema']?.note).toMatch(/mirror subscription from earth refused: .* is not published to earth/);
      expect(await earth.digest('/data/from/policy')).toMatchObject({ digest: null, cells: 0 });
      expect(await earth.digest('/data/from/net')).toMatchObject({ digest: null, cells: 0 });
    }),
  );
});

describe('peers a config does not name', () => {
  it(
    "a keyed peer not listed under saturn's peers is refused at the door (its key withheld from the providers), nothing of it in /net/mounts",
    withPeers(40_000, async (harness) => {
      const saturnConfig = (extra: Record<string, unknown>) =>
        peerConfig('saturn', { keys: { earth: { hex: KEY } }, listen: { tcp: '127.0.0.1:0' }, ...extra });
      const saturn = await harness.start(harness.writeConfig('saturn.json', saturnConfig({})));
      expect(saturn.logs.find((l) => l['msg']?.toString().startsWith('keyed peers not listed under peers are refused'))).toMatchObject({
        level: 40,
        peers: ['earth'],
      });
      const address = String((await saturn.waitForLog((l) => l['msg'] === 'listening' && l['provider'] === 'tcp'))['address']);
      const earth = await harness.start(
        harness.writeConfig('earth.json', peerConfig('earth', { keys: { saturn: { hex: KEY } }, peers: [{ name: 'saturn', provider: 'tcp', address }] })),
      );
      const listener = await until(
        async () => (await saturn.net('/net/listeners/tcp').catch(() => ({ value: undefined }))).value as Record<string, string> | undefined,
        (l) => l !== undefined && Number(l['rejected']) >= 1,
        "saturn's listener to refuse earth",
      );
      expect(listener?.['last_reject']).toMatch(/^AUTH_FAILED: /);
      await expect(saturn.net('/net/mounts/earth')).rejects.toThrow(/404/);
      expect((await earth.net('/net/organs/invoke/requests/saturn')).value['state']).not.toBe('active');
    }),
  );
});
