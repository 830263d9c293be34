/**
 * The tree browser: `/net` and `/data`, one level at a time. Opening a branch asks the
 * endpoint for that branch to depth 1 (`GET /net?path=…&depth=1`); nothing polls the tree.
 * "Refresh" reloads the open branches.
 */
import { getJson } from './api.ts';
import { h } from './dom.ts';
import type { Json } from './store.ts';

interface NetAnswer {
  readonly path: string;
  readonly beat: number;
  readonly value: Json;
}

function isMore(v: Json): v is { $more: string } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof v['$more'] === 'string';
}

function leaf(v: Json): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/** One branch's children as list items; stores with more below get a toggle. */
function entries(path: string, value: Json, onError: (e: unknown) => void): HTMLElement {
  const list = h('ul', { class: 'tree' });
  if (typeof value !== 'object' || value === null) {
    list.append(h('li', {}, h('span', { class: 'leaf' }, leaf(value))));
    return list;
  }
  const items: [string, Json][] = Array.isArray(value) ? value.map((v, i) => [`#${i}`, v]) : Object.entries(value);
  if (items.length === 0) list.append(h('li', { class: 'empty' }, '(empty)'));
  for (const [name, v] of items) {
    const childPath = `${path === '/' ? '' : path}/${name}`;
    if (isMore(v) && !Array.isArray(value)) {
      list.append(branch(childPath, name, `${v.$more} below`, onError));
    } else if (typeof v === 'object' && v !== null && !('$bytes' in (v as object)) && !('$link' in (v as object))) {
      list.append(h('li', {}, h('span', { class: 'name' }, name), ' ', h('span', { class: 'hint' }, Array.isArray(v) ? `[${v.length}]` : '{…}')));
    } else {
      list.append(h('li', { 'data-path': childPath }, h('span', { class: 'name' }, name), ' = ', h('span', { class: 'leaf' }, leaf(v))));
    }
  }
  return list;
}

/** A branch that loads its children when opened. */
function branch(path: string, label: string, hint: string, onError: (e: unknown) => void): HTMLElement {
  const toggle = h('button', { type: 'button', class: 'toggle', 'aria-expanded': 'false', 'data-path': path }, '▸ ', label);
  const item = h('li', {}, toggle, ' ', h('span', { class: 'hint' }, hint));
  let open: HTMLElement | undefined;
  const load = async (): Promise<void> => {
    const answer = await getJson<NetAnswer>(`/net?path=${encodeURIComponent(path)}&depth=1`);
    const next = entries(path, answer.value, onError);
    if (open !== undefined) open.replaceWith(next);
    else item.append(next);
    open = next;
  };
  toggle.addEventListener('click', () => {
    if (open !== undefined) {
      open.remove();
      open = undefined;
      toggle.setAttribute('aria-expanded', 'false');
      toggle.firstChild!.textContent = '▸ ';
      return;
    }
    toggle.setAttribute('aria-expanded', 'true');
    toggle.firstChild!.textContent = '▾ ';
    load().catch(onError);
  });
  return item;
}

/** The tree browser view (built once; its open branches survive live updates). */
export function treeView(onError: (e: unknown) => void): HTMLElement {
  const roots = h(
    'ul',
    { class: 'tree' },
    branch('/net', '/net', 'transports, mounts, telemetry, peers, organs', onError),
    branch('/data', '/data', 'application data, mirrored copies, the CEI mailbox', onError),
  );
  return h('section', { 'data-view': 'tree' }, h('h2', {}, 'Tree'), h('p', { class: 'hint' }, 'Open a branch to load it (one level per request).'), roots);
}
