/**
 * Requests to the peer's endpoint, from this origin only. When the peer has an `http.token`,
 * the operator types it once into the login form; it is kept in this tab's sessionStorage
 * (gone when the tab closes) and sent as `Authorization: Bearer`, never in a URL.
 */

const TOKEN_KEY = 'cep-node-token';

/** The endpoint refused the token (or wants one): the login form is shown. */
export class Unauthorized extends Error {}

/** A refusal or failure, with the endpoint's typed code when it gave one. */
export class RequestFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null || token === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** `GET path` as JSON, with the token when one is stored. */
export async function getJson<T>(path: string): Promise<T> {
  const token = storedToken();
  const res = await fetch(path, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    cache: 'no-store',
    credentials: 'omit',
  });
  if (res.status === 401) throw new Unauthorized('the endpoint needs its token');
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new RequestFailed(body.error?.code ?? `HTTP_${res.status}`, body.error?.message ?? res.statusText);
  return body;
}
