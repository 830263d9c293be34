/**
 * DOM helpers. Everything the console shows from a peer goes in as text (`textContent`,
 * attribute values), never as markup: a peer name or a CEI note cannot inject anything.
 */

/** Child of {@link h}: an element, text, or nothing. */
export type Child = Node | string | number | null | undefined | false;

/** Creates an HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element with attributes and children. */
export function s(tag: string, attrs: Record<string, string | number | undefined> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag) as SVGElement;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** A table with a header row; each row's cells become `<td>`s. `rowAttrs` tags rows for lookups. */
export function table(head: readonly string[], rows: readonly { attrs?: Record<string, string>; cells: readonly Child[] }[], empty: string): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, ...head.map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      ...rows.map((r) => h('tr', r.attrs ?? {}, ...r.cells.map((c, i) => h('td', { 'data-col': head[i]?.toLowerCase().replace(/[^a-z]+/g, '_') }, c)))),
    ),
  );
}

/** A state shown as a coloured badge (`open`, `active`, `ok` green; `error`, `reject` red; …). */
export function badge(state: string | undefined): HTMLElement {
  const text = state ?? '—';
  const tone = /^(open|active|ok|live|accepted|true)$/.test(text)
    ? 'good'
    : /^(error|reject|fatal|timeout|lost|closed|crit)$/.test(text)
      ? 'bad'
      : /^(opening|pending|sent|plan|warn|backpressure|held|usage)$/.test(text)
        ? 'warn'
        : 'plain';
  return h('span', { class: `badge ${tone}` }, text);
}

/**
 * A small line chart of `[beat, value]` points: values scaled to the box, beats on x.
 * A single point or a flat series draws a flat line.
 */
export function sparkline(points: readonly (readonly [number, number])[], label: string, width = 140, height = 28): SVGElement {
  const svg = s('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': label });
  if (points.length === 0) return svg;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x: number): number => (x1 === x0 ? width - 2 : 1 + ((x - x0) / (x1 - x0)) * (width - 2));
  const py = (y: number): number => (y1 === y0 ? height / 2 : height - 2 - ((y - y0) / (y1 - y0)) * (height - 4));
  const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
  svg.append(s('path', { d: points.length === 1 ? `M1,${py(ys[0]!)} L${width - 1},${py(ys[0]!)}` : d }));
  const last = points[points.length - 1]!;
  svg.append(s('circle', { cx: px(last[0]).toFixed(1), cy: py(last[1]).toFixed(1), r: 2 }));
  return svg;
}

/** The first 16 hex digits of a digest, or a dash. */
export function shortDigest(hex: unknown): string {
  return typeof hex === 'string' ? `${hex.slice(0, 16)}…` : '—';
}
