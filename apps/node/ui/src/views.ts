/**
 * The console's live views, each rebuilt from the {@link Store} when its sections change:
 * peers & mounts (table and graph), telemetry (sparklines), mirrors, invokes, CEI events.
 */
import { badge, h, s, shortDigest, sparkline, table } from './dom.ts';
import { field, type Kept, type Store } from './store.ts';

const SERIALIZER = ['crc32c', 'deflate', 'aead'] as const;

function features(rec: Kept['value']): string {
  const on = SERIALIZER.filter((f) => field(rec, `serializer/${f}_ok`) === 'true');
  return on.length === 0 ? 'none' : on.join(' + ');
}

/** `saturn/link/main` → its telemetry record `saturn/main`. */
function telemetryOf(store: Store, key: string): Kept | undefined {
  const [peer, , mount] = key.split('/');
  return store.telemetry.get(`${peer}/${mount}`);
}

/** Peers & mounts: a graph of this peer and the peers it has mounts with, and the mount table. */
export function mountsView(store: Store): HTMLElement {
  const mounts = [...store.mounts.values()];
  const rows = mounts.map((m) => {
    const [peer, mode, mount] = m.key.split('/');
    const aead = field(m.value, 'serializer/aead_ok') === 'true';
    return {
      attrs: { 'data-key': m.key, 'data-state': field(m.value, 'state') ?? '' },
      cells: [
        peer,
        `${mode}/${mount}`,
        badge(field(m.value, 'state')),
        field(m.value, 'transport/provider') ?? '—',
        features(m.value),
        h('span', { class: aead ? 'on' : 'off' }, aead ? 'on' : field(m.value, 'serializer/aead_down') === 'true' ? 'off (downgraded)' : 'off'),
        field(telemetryOf(store, m.key)?.value, 'last_event') ?? '—',
        field(m.value, 'error_note') ?? '',
      ],
    };
  });
  return h(
    'section',
    { 'data-view': 'mounts' },
    h('h2', {}, 'Peers and mounts'),
    graph(store, mounts),
    table(
      ['Peer', 'Mount', 'State', 'Provider', 'Serializer', 'AEAD', 'Last event', 'Note'],
      rows,
      'No mounts yet: this peer has not dialled or accepted any.',
    ),
  );
}

/** This peer on the left, each remote peer on the right, one edge per mount coloured by state. */
function graph(store: Store, mounts: readonly Kept[]): SVGElement {
  const byPeer = new Map<string, Kept[]>();
  for (const m of mounts) {
    const p = m.key.split('/')[0]!;
    byPeer.set(p, [...(byPeer.get(p) ?? []), m]);
  }
  const peers = [...byPeer.keys()].sort();
  const gap = 24; // between the edges of one peer, so their labels do not overlap
  const rows = peers.map((p) => Math.max(56, byPeer.get(p)!.length * gap + 16));
  const height = Math.max(90, rows.reduce((a, b) => a + b, 0) + 20);
  const svg = s('svg', { class: 'graph', width: 680, height, viewBox: `0 0 680 ${height}`, role: 'img', 'aria-label': 'mount graph' });
  const self = { x: 90, y: height / 2 };
  let top = 10;
  peers.forEach((peer, i) => {
    const y = top + rows[i]! / 2;
    top += rows[i]!;
    const edges = byPeer.get(peer)!;
    edges.forEach((m, j) => {
      const offset = (j - (edges.length - 1) / 2) * gap;
      const state = field(m.value, 'state') ?? 'none';
      const [, mode, mount] = m.key.split('/');
      const [fromY, toY] = [self.y + offset / 3, y + offset];
      svg.append(s('path', { class: `edge ${state}`, d: `M${self.x + 70},${fromY} C250,${fromY} 280,${toY} 340,${toY} L540,${toY}` }));
      svg.append(
        s(
          'text',
          { class: 'edge-label', x: 440, y: toY - 4, 'text-anchor': 'middle' },
          `${mode}/${mount} · ${field(m.value, 'transport/provider') ?? '?'} · ${state}`,
        ),
      );
    });
    svg.append(s('rect', { class: 'node', x: 540, y: y - 16, width: 120, height: 32, rx: 6 }));
    svg.append(s('text', { class: 'node-label', x: 600, y: y + 5, 'text-anchor': 'middle' }, peer));
  });
  svg.append(s('rect', { class: 'node self', x: self.x - 70, y: self.y - 18, width: 140, height: 36, rx: 6 }));
  svg.append(s('text', { class: 'node-label', x: self.x, y: self.y + 5, 'text-anchor': 'middle' }, `${store.peer || 'this peer'} (${store.enclave})`));
  return svg;
}

/** A counter's samples, held at its last value up to `beat` (a counter that did not change since is flat till now). */
function untilNow(points: readonly [number, number][], beat: number): [number, number][] {
  const last = points[points.length - 1];
  return last === undefined || last[0] >= beat ? [...points] : [...points, [beat, last[1]]];
}

/** Per-mount telemetry: counters and sparklines of frames sent and backpressure episodes. */
export function telemetryView(store: Store): HTMLElement {
  const rows = [...store.telemetry.values()].map((t) => {
    const samples = store.samples.get(t.key) ?? { frames: [], bp: [] };
    const bp = field(t.value, 'bp_flag') === 'true';
    return {
      attrs: { 'data-key': t.key },
      cells: [
        t.key.replace('/', ' / '),
        field(t.value, 'frame_count') ?? '0',
        sparkline(untilNow(samples.frames, store.beat), `frames of ${t.key}`),
        field(t.value, 'bp_count') ?? '0',
        sparkline(untilNow(samples.bp, store.beat), `backpressure of ${t.key}`),
        h('span', { class: bp ? 'off' : 'on' }, bp ? 'held back' : 'flowing'),
        field(t.value, 'ready_count') ?? '0',
        field(t.value, 'fatal_count') ?? '0',
        field(t.value, 'last_event') ?? '—',
        field(t.value, 'last_sample') ?? '—',
      ],
    };
  });
  return h(
    'section',
    { 'data-view': 'telemetry' },
    h('h2', {}, 'Telemetry per mount'),
    h('p', { class: 'hint' }, 'Sparklines: the counter over beats (the tree keeps the last values of each counter; the console adds what it sees while open).'),
    table(
      ['Peer / mount', 'Frames', 'Frames over beats', 'Backpressure', 'Backpressure over beats', 'Now', 'Ready', 'Fatal', 'Last event', 'Beat'],
      rows,
      'No telemetry yet.',
    ),
  );
}

/** Mirrors this peer receives (requests) and serves (subscriptions), with local digests. */
export function mirrorsView(store: Store): HTMLElement {
  const requests = [...store.mirrors.values()].map((m) => ({
    attrs: { 'data-key': m.key },
    cells: [
      m.key,
      `${field(m.value, 'src_peer') ?? '?'}:${field(m.value, 'src_chan') ?? '?'}`,
      field(m.value, 'dst_chan') ?? field(m.value, 'src_chan') ?? '—',
      badge(field(m.value, 'state')),
      field(m.value, 'provider') ?? '—',
      field(m.value, 'bundle_seq') ?? '0',
      field(m.value, 'held') ?? '0',
      field(m.value, 'commit_beat') ?? '—',
      field(m.value, 'pend_resum') ?? '—',
      h('code', { title: String(m.extra['digest'] ?? '') }, shortDigest(m.extra['digest'])),
      field(m.value, 'error_note') ?? '',
    ],
  }));
  const serving = [...store.serving.values()].map((m) => ({
    attrs: { 'data-key': m.key },
    cells: [
      m.key,
      field(m.value, 'src_chan') ?? '—',
      badge(field(m.value, 'state')),
      field(m.value, 'seq') ?? '0',
      field(m.value, 'acked') ?? '0',
      field(m.value, 'inflight') ?? '0',
      field(m.value, 'held') === 'true' ? 'yes' : 'no',
      field(m.value, 'epoch') ?? '—',
      h('code', { title: String(m.extra['digest'] ?? '') }, shortDigest(m.extra['digest'])),
    ],
  }));
  return h(
    'section',
    { 'data-view': 'mirrors' },
    h('h2', {}, 'Mirrors received'),
    table(
      ['Request', 'Source', 'Copy', 'State', 'Provider', 'Bundle seq', 'Held', 'Commit beat', 'Resume token', 'Digest here', 'Note'],
      requests,
      'This peer mirrors nothing.',
    ),
    h('h2', {}, 'Mirrors served'),
    table(
      ['Peer / mount', 'Branch', 'State', 'Sealed seq', 'Acked', 'In flight', 'Held', 'Epoch', 'Digest here'],
      serving,
      'No peer mirrors a branch of this peer.',
    ),
    h(
      'p',
      { class: 'hint' },
      'A copy equals its source when "Digest here" on the receiving peer matches "Digest here" of the serving peer (the digest is deterministic: same branch, same digest).',
    ),
  );
}

const FINISHED = new Set(['ok', 'reject', 'timeout', 'cancelled']);

/** Invoke calls this peer made: those in flight and the recent outcomes, newest first. */
export function invokesView(store: Store): HTMLElement {
  const all = [...store.invokes.values()].sort((a, b) => b.beat - a.beat);
  const row = (r: Kept) => {
    const [request, id] = r.key.split('/');
    const sent = Number(field(r.value, 'sent_beat') ?? NaN);
    const done = Number(field(r.value, 'done_beat') ?? NaN);
    return {
      attrs: { 'data-key': r.key, 'data-state': field(r.value, 'state') ?? '' },
      cells: [
        request,
        h('code', { title: id ?? '' }, (id ?? '').slice(0, 12)),
        field(r.value, 'signal') ?? '—',
        badge(field(r.value, 'state')),
        field(r.value, 'result') ?? '',
        field(r.value, 'note') ?? '',
        Number.isFinite(sent) ? String(sent) : '—',
        Number.isFinite(done) && Number.isFinite(sent) ? String(done - sent) : '—',
      ],
    };
  };
  const head = ['Peer', 'Invoke', 'Signal', 'State', 'Result', 'Note', 'Sent beat', 'Beats'];
  return h(
    'section',
    { 'data-view': 'invokes' },
    h('h2', {}, 'Calls in flight'),
    table(head, all.filter((r) => !FINISHED.has(field(r.value, 'state') ?? '')).map(row), 'No call in flight.'),
    h('h2', {}, 'Recent outcomes'),
    table(head, all.filter((r) => FINISHED.has(field(r.value, 'state') ?? '')).map(row), 'No call finished yet.'),
  );
}

/** Filters of the CEI feed. */
export interface EventFilter {
  family: 'all' | 'tp' | 'sec' | 'other';
  severity: string;
  text: string;
}

const SEVERITIES = ['debug', 'info', 'usage', 'warn', 'error', 'crit', 'fatal'];

/** The CEI feed's filter bar: built once, so typing in it is not interrupted by live updates. */
export function eventFilterBar(filter: EventFilter, onChange: () => void): HTMLElement {
  const family = h(
    'select',
    { name: 'family', 'aria-label': 'topic family' },
    ...(['all', 'tp', 'sec', 'other'] as const).map((f) => h('option', { value: f }, f === 'tp' ? 'tp_* (transport)' : f === 'sec' ? 'sec.* (security)' : f)),
  );
  const severity = h(
    'select',
    { name: 'severity', 'aria-label': 'lowest severity' },
    h('option', { value: '' }, 'any severity'),
    ...SEVERITIES.map((v) => h('option', { value: v }, `${v} and above`)),
  );
  const text = h('input', { type: 'search', name: 'text', placeholder: 'topic, peer or note contains…', 'aria-label': 'text filter' });
  family.addEventListener('change', () => {
    filter.family = family.value as EventFilter['family'];
    onChange();
  });
  severity.addEventListener('change', () => {
    filter.severity = severity.value;
    onChange();
  });
  text.addEventListener('input', () => {
    filter.text = text.value;
    onChange();
  });
  return h('div', { class: 'filters' }, family, severity, text);
}

/** The CEI feed, newest first, through the filters. */
export function eventsView(store: Store, filter: EventFilter, bar: HTMLElement): HTMLElement {
  const min = filter.severity === '' ? -1 : SEVERITIES.indexOf(filter.severity);
  const needle = filter.text.toLowerCase();
  const rows = [...store.facts]
    .reverse()
    .filter((f) => {
      const topic = field(f.value, 'err/topic') ?? '';
      const fam = topic.startsWith('tp_') ? 'tp' : topic.startsWith('sec.') ? 'sec' : 'other';
      if (filter.family !== 'all' && fam !== filter.family) return false;
      if (SEVERITIES.indexOf(field(f.value, 'err/sev') ?? '') < min) return false;
      if (needle !== '' && !`${topic} ${field(f.value, 'err/peer') ?? ''} ${field(f.value, 'err/note') ?? ''}`.toLowerCase().includes(needle)) return false;
      return true;
    })
    .slice(0, 200)
    .map((f) => ({
      attrs: { 'data-key': f.key, 'data-topic': field(f.value, 'err/topic') ?? '' },
      cells: [
        field(f.value, 'err/issued_beat') ?? String(f.beat),
        badge(field(f.value, 'err/sev')),
        field(f.value, 'err/topic') ?? '—',
        field(f.value, 'err/origin/name') ?? '—',
        field(f.value, 'err/peer') ?? '',
        field(f.value, 'err/note') ?? '',
      ],
    }));
  return h(
    'section',
    { 'data-view': 'events' },
    h('h2', {}, 'CEI events'),
    bar,
    table(['Beat', 'Severity', 'Topic', 'Origin', 'Peer', 'Note'], rows, 'No event matches.'),
  );
}
