import { isIP } from 'node:net';
import { CepError } from '@cep/provider-spec';

/** A parsed `host:port` (IPv6 as `[::1]:port`). */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  readonly family: 'udp4' | 'udp6';
}

/** Parses a UDP address; port 0 only where the OS picks (listen). Hosts must be IP literals. */
export function parseAddress(address: string, allowZero: boolean): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(address);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const version = host === undefined ? 0 : isIP(host);
  if (host === undefined || version === 0 || !Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero)) {
    throw new CepError('ADDRESS_INVALID', `"${address}" is not a UDP address; write ip:port, e.g. 127.0.0.1:7001 or [::1]:7001`, { address });
  }
  return { host, port, family: version === 6 ? 'udp6' : 'udp4' };
}

export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
