/** Registered peers as C-MOVE destinations: where to connect, and with which TLS settings. */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { GatewayConfig } from '../config.js';
import type { AssociationTarget } from './requestor.js';

export interface DicomPeerLookup {
  destination(aeTitle: string): AssociationTarget | undefined;
}

export function peerLookup(config: GatewayConfig['dimse']): DicomPeerLookup {
  const peers = new Map(config.peers.map((peer) => [peer.aeTitle, peer]));
  let tls: TlsOptions | undefined;
  const tlsOptions = (): TlsOptions => {
    // Our own certificate doubles as the client certificate; the configured CA (else the system's) verifies the peer.
    tls ??= config.tls
      ? {
          key: readFileSync(config.tls.key),
          cert: readFileSync(config.tls.cert),
          ca: config.tls.ca ? readFileSync(config.tls.ca) : undefined,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        }
      : { minVersion: 'TLSv1.2' };
    return tls;
  };
  return {
    destination(aeTitle) {
      const peer = peers.get(aeTitle.trim());
      if (!peer) return undefined;
      return {
        host: peer.host,
        port: peer.port,
        calledAETitle: peer.aeTitle,
        callingAETitle: config.aeTitle,
        tls: peer.tls ? tlsOptions() : undefined,
      };
    },
  };
}
