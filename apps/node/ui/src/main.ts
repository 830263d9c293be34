/**
 * The web console of one cep-node peer: polls `GET /ui/api/state?since=<cursor>` (only what
 * changed since the last answer) and re-renders the open view. The views are picked by the
 * URL's fragment (`#mounts`, `#telemetry`, `#mirrors`, `#invokes`, `#events`, `#tree`).
 */
import { getJson, storeToken, storedToken, Unauthorized, RequestFailed } from './api.ts';
import { h } from './dom.ts';
import { Store, type StateAnswer } from './store.ts';
import { treeView } from './tree.ts';
import { eventFilterBar, eventsView, invokesView, mirrorsView, mountsView, telemetryView, type EventFilter } from './views.ts';

/** Milliseconds between polls: how fresh the page is, not anything the peer decides by. */
const POLL_MS = 400;

const VIEWS = [
  ['mounts', 'Peers & mounts'],
  ['telemetry', 'Telemetry'],
  ['mirrors', 'Mirrors'],
  ['invokes', 'Invokes'],
  ['events', 'Events'],
  ['tree', 'Tree'],
] as const;
type ViewName = (typeof VIEWS)[number][0];

const store = new Store();
const filter: EventFilter = { family: 'all', severity: '', text: '' };
const main = h('main', { id: 'view' });
const status = h('span', { id: 'status', class: 'status' }, 'connecting…');
const title = h('span', { id: 'peer' }, 'cep-node');
const beat = h('span', { id: 'beat', class: 'beat' }, '');
const bar = eventFilterBar(filter, () => render());
let tree: HTMLElement | undefined;
let polling = false;

function current(): ViewName {
  const name = location.hash.slice(1);
  return (VIEWS.find(([v]) => v === name)?.[0] ?? 'mounts') as ViewName;
}

function showError(error: unknown): void {
  if (error instanceof Unauthorized) return showLogin();
  status.textContent = error instanceof RequestFailed ? `${error.code}: ${error.message}` : `disconnected (${(error as Error).message})`;
  status.className = 'status bad';
}

function render(): void {
  const view = current();
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.getAttribute('href') === `#${view}`);
  let next: HTMLElement;
  switch (view) {
    case 'mounts':
      next = mountsView(store);
      break;
    case 'telemetry':
      next = telemetryView(store);
      break;
    case 'mirrors':
      next = mirrorsView(store);
      break;
    case 'invokes':
      next = invokesView(store);
      break;
    case 'events':
      next = eventsView(store, filter, bar);
      break;
    case 'tree':
      next = tree ??= treeView(showError);
      break;
  }
  if (main.firstChild !== next) main.replaceChildren(next);
}

async function poll(): Promise<void> {
  try {
    const answer = await getJson<StateAnswer>(`/ui/api/state?since=${store.cursor}`);
    const touched = store.apply(answer);
    title.textContent = `${answer.peer} · enclave ${answer.enclave}`;
    document.title = `${answer.peer} — cep-node console`;
    beat.textContent = `beat ${answer.beat}`;
    status.textContent = 'live';
    status.className = 'status good';
    if (touched.size > 0 && current() !== 'tree') render();
  } catch (error) {
    showError(error);
    if (error instanceof Unauthorized) {
      polling = false;
      return;
    }
  }
  setTimeout(() => void poll(), POLL_MS);
}

function startPolling(): void {
  if (polling) return;
  polling = true;
  void poll();
}

function showLogin(): void {
  polling = false;
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', required: '', 'aria-label': 'token' });
  const form = h(
    'form',
    { class: 'login', 'data-view': 'login' },
    h('h2', {}, 'This peer needs its token'),
    h(
      'p',
      {},
      storedToken() === null
        ? "Enter the http.token of this peer's config. It stays in this tab only (sessionStorage) and is sent as a bearer header."
        : 'The stored token was refused; enter the current one.',
    ),
    input,
    h('button', { type: 'submit' }, 'Open console'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    storeToken(input.value);
    logout.hidden = false;
    main.replaceChildren();
    startPolling();
  });
  status.textContent = 'token needed';
  status.className = 'status warn';
  main.replaceChildren(form);
  input.focus();
}

const logout = h('button', { type: 'button', class: 'logout', ...(storedToken() === null ? { hidden: '' } : {}) }, 'Forget token');
logout.addEventListener('click', () => {
  storeToken(null);
  location.reload();
});

document.body.append(
  h('header', {}, h('strong', {}, 'cep-node'), ' ', title, ' ', beat, ' ', status, ' ', logout),
  h('nav', {}, ...VIEWS.map(([v, label]) => h('a', { href: `#${v}`, 'data-nav': v }, label))),
  main,
);
window.addEventListener('hashchange', () => render());
render();
startPolling();
