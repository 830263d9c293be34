import { isIP } from 'node:net';
import { CepError } from '@cep/provider-spec';

/** A parsed `host:port` (IPv6 as `[::1]:port`). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses a TCP address; port 0 is allowed only where the OS picks (listen). */
export function parseAddress(address: string, allowZero: boolean): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero)) {
    throw new CepError('ADDRESS_INVALID', `"${address}" is not a TCP address; write host:port, e.g. 127.0.0.1:7000 or [::1]:7000`, {
      address,
    });
  }
  return { host, port };
}

/** Formats a bound address back into the provider's syntax. */
export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
