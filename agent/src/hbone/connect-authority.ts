// Parses the `:authority` of an HBONE CONNECT: `<IPv4>:<port>` or `[<IPv6>]:<port>`. Only
// addresses are accepted (no names): the tunnel targets a pod IP the snapshot can vouch for.
import net from 'node:net';

export interface ConnectAuthority {
  ip: string;
  port: number;
}

export function parseConnectAuthority(authority: string | undefined): ConnectAuthority | undefined {
  if (authority === undefined) return undefined;
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']:');
    if (close < 0) return undefined;
    host = authority.slice(1, close);
    portText = authority.slice(close + 2);
    if (net.isIPv6(host) === false) return undefined;
  } else {
    const colon = authority.indexOf(':');
    if (colon < 0 || authority.indexOf(':', colon + 1) >= 0) return undefined;
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (!net.isIPv4(host)) return undefined;
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { ip: host, port };
}

export function formatConnectAuthority(ip: string, port: number): string {
  return net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}
