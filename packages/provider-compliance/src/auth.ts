/**
 * The authentication section of the suite: a provider must refuse a dialler with the wrong
 * credentials (before any channel or frame exists), and — where the suite can get between the
 * two sides — a replayed or reordered record. Without it a provider that checks no key at all
 * passes every other test.
 */
import { describe, expect } from 'vitest';
import { CepError, type ChannelV1, type RejectionV1 } from '@cep/provider-spec';
import { indexOf, patterned, reader, record, sameBytes, sleep, until, within, type Reader } from './helpers.ts';
import type { Kit, Pair, SuiteContext } from './context.ts';
import type { Tap } from './tap.ts';
import type { ComplianceEnv, Intruder, IntruderKind } from './types.ts';

/** Codes a refusal of each intruder may carry (provider-spec: `AUTH_FAILED` is a failed handshake, `PEER_MISMATCH` a name the key does not prove). */
const INTRUDER_CODES: Record<IntruderKind, readonly string[]> = {
  'wrong-key': ['AUTH_FAILED'],
  'unknown-peer': ['AUTH_FAILED'],
  // A pre-shared-key provider cannot tell an impersonator from a wrong key; a public-key one can.
  impersonator: ['AUTH_FAILED', 'PEER_MISMATCH'],
};
/**
 * When the dialler is the side that refused (it checks the listener's proof first, as a
 * challenge–response over a pre-shared key does), the listener only sees it hang up.
 */
const ABANDONED_CODES = ['CONNECTION_LOST', 'HANDSHAKE_TIMEOUT'];
const REPLAY_CODES = ['REPLAYED_FRAME'];
const TAMPER_CODES = ['AUTH_FAILED', 'PROTOCOL_ERROR'];
const REORDER_CODES = ['REPLAYED_FRAME', 'PROTOCOL_ERROR'];

const WHO: Record<IntruderKind, string> = {
  'wrong-key': "the dialer's name with a key the listener does not hold for it",
  'unknown-peer': 'a peer name the listener does not know',
  impersonator: "a known third peer with its own key, claiming the dialer's name",
};

/** A channel's `fatal` codes and the listener's refusals with one of `codes`. */
function refusals(events: ReturnType<typeof record>, rejections: readonly RejectionV1[], codes: readonly string[]): string[] {
  const fatal = events.flatMap((e) => (e.type === 'fatal' ? [e.error.code] : []));
  return [...fatal, ...rejections.map((r) => r.code)].filter((code) => codes.includes(code));
}

/** Registers the authentication tests (intruders; with a tap, replays and reordering) inside the suite's describe. */
export function registerAuthentication(ctx: SuiteContext): void {
  const { options, ms, reliable, test } = ctx;
  const mode = options.authentication ?? 'handshake';
  const title = 'authentication';

  // The only way these checks are left out: the setup says, in so many words, that nobody is
  // authenticated. They are then not registered at all (a skipped test would look like a check).
  if (mode === 'none') return;

  function intruderOf(kit: Kit, env: ComplianceEnv, kind: IntruderKind): Intruder {
    if (env.intruder === undefined) {
      throw new Error(
        `${options.name}: setup() gave no intruder(); give one (a dialler with credentials the listener must refuse), or declare authentication: 'none' if the provider authenticates nobody`,
      );
    }
    const intruder = env.intruder(kind);
    kit.release(() => intruder.dialer.close());
    return intruder;
  }

  async function tapOf(kit: Kit, p: Pair): Promise<Tap> {
    const tap = await within(ms, 'tap()', options.tap!(p.listener.address));
    kit.release(() => tap.close());
    return tap;
  }

  /** Waits until the tap has kept something, lets the rest of it arrive, and returns it all. */
  async function keptBy(tap: Tap): Promise<Uint8Array[]> {
    const units: Uint8Array[] = [];
    await until(ms, 'the tap to see the frame', () => (units.push(...tap.take()), units.length > 0));
    // A stream write may arrive in more than one chunk: give the rest a moment (this only
    // gathers bytes; nothing is asserted on time).
    await sleep(50);
    units.push(...tap.take());
    return units;
  }

  /**
   * Sends frame `index` until it arrives (once on a reliable channel, up to 10 times on an
   * unreliable one) and returns the indexes of every frame read meanwhile.
   */
  async function seenAfter(local: ChannelV1, inbound: Reader, index: number): Promise<number[]> {
    const seen: number[] = [];
    for (let attempt = 0; attempt < 10 && !seen.includes(index); attempt++) {
      if (attempt === 0 || !reliable) local.send(patterned(index, 64));
      const deadline = Date.now() + (reliable ? ms : 200);
      while (!seen.includes(index) && Date.now() < deadline) {
        const [frame] = await inbound.drain(1, deadline - Date.now());
        if (frame === undefined) break;
        seen.push(indexOf(frame));
      }
      if (reliable) break;
    }
    return seen;
  }

  describe(title, () => {
    for (const kind of Object.keys(INTRUDER_CODES) as IntruderKind[]) {
      const codes = INTRUDER_CODES[kind];
      test(`refuses an intruder (${kind}: ${WHO[kind]}): ${codes.join(' or ')}, onReject on the listener, no channel, no frame`, async ({ kit }) => {
        const p = await kit.pair();
        const intruder = intruderOf(kit, p.env, kind);
        const outcome = await within(
          ms,
          "the intruder's open()",
          intruder.dialer.open({ peer: p.env.listenerPeer, mode: 'link', mount: 'intruder', localNode: intruder.claims, address: p.listener.address }).then(
            (channel) => ({ channel }),
            (error: unknown) => ({ error }),
          ),
        );
        let listenerCodes = codes;
        if ('error' in outcome) {
          expect(outcome.error).toBeInstanceOf(CepError);
          expect(codes).toContain((outcome.error as CepError).code);
          listenerCodes = [...codes, ...ABANDONED_CODES];
        } else {
          // Only a provider without a handshake at open may let it resolve; its frames must then be refused.
          expect(mode, 'open() resolved for an intruder, yet the setup declares a handshake').toBe('per-frame');
          const channel: ChannelV1 = outcome.channel;
          await until(ms, "onReject for the intruder's frames", () => {
            if (channel.send(patterned(1, 16)) === 'backpressure') return false;
            return p.rejections.length > 0;
          });
        }
        await until(ms, 'onReject on the listener', () => p.rejections.length > 0);
        expect(
          p.rejections.some((r) => listenerCodes.includes(r.code)),
          `listener refusals: ${p.rejections.map((r) => r.code).join(', ')}`,
        ).toBe(true);
        // Nothing of the intruder's became a channel, so no frame of it can reach anyone.
        expect(p.accepted.filter((c) => c.info.mount === 'intruder')).toEqual([]);
        // And the listener is unharmed: the real dialer still gets through.
        const { local, remote } = await p.open('after');
        expect(await seenAfter(local, reader(remote), 2)).toContain(2);
        expect(p.accepted.filter((c) => c.info.mount === 'intruder')).toEqual([]);
      });
    }

    // Optional: a medium the suite cannot get between (in-process memory, a broker) gives no tap;
    // these three checks are then not registered (the README's table says which setups run them).
    if (options.tap === undefined) return;

    test(`refuses a tampered record: nothing altered is delivered and the forgery is reported`, async ({ kit }) => {
      const p = await kit.pair();
      const tap = await tapOf(kit, p);
      const { local, remote } = await p.open('tamper', tap.address);
      const events = record(remote);
      const inbound = reader(remote);
      tap.hold();
      local.send(patterned(1, 64));
      const units = await keptBy(tap);
      tap.pass();
      // Flip one bit of the last byte the dialer sent: in every record format that is
      // authenticated data (a tag, or the end of the frame it covers).
      const forged = units.map((unit, i) => {
        const copy = Uint8Array.from(unit);
        if (i === units.length - 1) copy[copy.length - 1]! ^= 1;
        return copy;
      });
      for (const unit of forged) tap.inject(unit);
      await until(ms, `a refusal (${TAMPER_CODES.join('/')}) of the forged record`, () => refusals(events, p.rejections, TAMPER_CODES).length > 0);
      if (!reliable) {
        // A datagram channel drops the forgery and still takes the genuine datagram.
        for (const unit of units) tap.inject(unit);
        const seen = await seenAfter(local, inbound, 2);
        expect(seen.filter((i) => i === 1)).toHaveLength(1);
        return;
      }
      // Whatever a stream channel still yields before it dies is never the altered frame.
      for (const frame of await inbound.drain(64, 200)) expect(sameBytes(frame, patterned(indexOf(frame), 64))).toBe(true);
    });

    test(`refuses a replayed record: the frame is delivered once and the replay is reported`, async ({ kit }) => {
      const p = await kit.pair();
      const tap = await tapOf(kit, p);
      const { local, remote } = await p.open('replay', tap.address);
      const events = record(remote);
      const inbound = reader(remote);
      tap.capture();
      local.send(patterned(1, 64));
      expect(indexOf((await inbound.next(ms))!)).toBe(1);
      const units = await keptBy(tap);
      tap.pass();
      for (const unit of units) tap.inject(unit);
      await until(ms, `a refusal (${REPLAY_CODES.join('/')}) of the replay`, () => refusals(events, p.rejections, REPLAY_CODES).length > 0);
      if (!reliable) {
        // A datagram channel drops the replay and carries on.
        const seen = await seenAfter(local, inbound, 2);
        expect(seen).not.toContain(1);
        expect(seen).toContain(2);
        return;
      }
      // A stream channel dies on the replay: what is still yielded never repeats the frame.
      const rest = await inbound.drain(64, 200);
      expect(rest.map(indexOf)).not.toContain(1);
    });

    test(`refuses a reordered record on a reliable channel (accepts it once on an unreliable one)`, async ({ kit }) => {
      const p = await kit.pair();
      const tap = await tapOf(kit, p);
      const { local, remote } = await p.open('reorder', tap.address);
      const events = record(remote);
      const inbound = reader(remote);
      tap.hold();
      local.send(patterned(1, 64));
      const first = await keptBy(tap);
      local.send(patterned(2, 64));
      const second = await keptBy(tap);
      tap.pass();
      for (const unit of [...second, ...first]) tap.inject(unit);
      if (!reliable) {
        // Inside the replay window both arrive, each exactly once, in the order they came.
        const got = (await inbound.drain(2, ms)).map(indexOf);
        const late = (await inbound.drain(64, 100)).map(indexOf);
        expect([...got, ...late]).toEqual([2, 1]);
        return;
      }
      // A stream provider may refuse the record that came early (and die), or put both back in order; never out of order.
      const got = (await inbound.drain(2, 500)).map(indexOf);
      expect([[], [1], [1, 2]]).toContainEqual(got);
      if (got.length < 2) {
        await until(ms, `a refusal (${REORDER_CODES.join('/')}) of the reordered record`, () => refusals(events, p.rejections, REORDER_CODES).length > 0);
      }
    });
  });
}
