/**
 * Who may associate and what they may do (PS3.8 7.1.1.3-7 reject reasons, PS3.7 D.3.3 negotiation):
 *
 * - the called AE title must be ours (configurable); a calling AE outside a non-empty allow list is refused;
 * - registered peers (by AE title, from their configured host, over TLS when the peer says so) get the
 *   services their `allow` lists;
 * - anyone else may store when the store policy is "any" (modality push) and nothing more; an unknown
 *   caller that only proposes query/retrieve is refused as "calling AE title not recognized".
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DimsePeer } from '../config.js';
import type { Logger } from '../log.js';
import type { AssociationDecision, Permission } from './acceptor.js';
import { Reject, type AssociateRQ, type RoleSelection } from './pdu.js';
import { VERIFICATION_SOP_CLASS, type NegotiationPolicy } from './presentation-contexts.js';
import { QueryRetrieveModel } from './query-retrieve.js';

const MODEL_PERMISSION = new Map<string, Permission>([
  [QueryRetrieveModel.PatientRootFind, 'find'],
  [QueryRetrieveModel.StudyRootFind, 'find'],
  [QueryRetrieveModel.PatientRootMove, 'move'],
  [QueryRetrieveModel.StudyRootMove, 'move'],
  [QueryRetrieveModel.PatientRootGet, 'get'],
  [QueryRetrieveModel.StudyRootGet, 'get'],
]);

/** Query/retrieve identifiers are exchanged uncompressed, little endian. */
const QUERY_SYNTAXES = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);

export interface PolicyOptions {
  aeTitle: string;
  checkCalledAETitle: boolean;
  allowedCallingAETitles: string[];
  storePolicy: 'any' | 'registered';
  peers: DimsePeer[];
  acceptStorage: (sopClassUid: string) => boolean;
  /** Refuse everything new (shutting down, or over the association limit). */
  refusing: () => 'shutting down' | 'association limit reached' | undefined;
  log: Logger;
}

export class AssociationPolicy {
  private readonly peers: Map<string, DimsePeer>;

  constructor(private readonly options: PolicyOptions) {
    this.peers = new Map(options.peers.map((peer) => [peer.aeTitle, peer]));
  }

  peer(aeTitle: string): DimsePeer | undefined {
    return this.peers.get(aeTitle);
  }

  async admit(rq: AssociateRQ, remote: { address: string; tls: boolean }): Promise<AssociationDecision> {
    const { options } = this;
    const refusing = options.refusing();
    if (refusing) {
      const reason = refusing === 'shutting down' ? Reject.TemporaryCongestion : Reject.LocalLimitExceeded;
      return reject(Reject.Transient, Reject.SourcePresentation, reason, refusing);
    }
    if (options.checkCalledAETitle && rq.calledAETitle !== options.aeTitle) {
      return reject(
        Reject.Permanent,
        Reject.SourceUser,
        Reject.CalledAeNotRecognized,
        'called AE title not recognized',
      );
    }
    if (
      options.allowedCallingAETitles.length > 0 &&
      !options.allowedCallingAETitles.includes(rq.callingAETitle)
    ) {
      return reject(
        Reject.Permanent,
        Reject.SourceUser,
        Reject.CallingAeNotRecognized,
        'calling AE title not in the allow list',
      );
    }

    const peer = await this.verifiedPeer(rq.callingAETitle, remote);
    const permissions = new Set<Permission>(
      peer ? peer.allow : options.storePolicy === 'any' ? ['store'] : [],
    );
    const proposesUsable = rq.contexts.some((c) => {
      if (c.abstractSyntax === VERIFICATION_SOP_CLASS) return true;
      const needed = MODEL_PERMISSION.get(c.abstractSyntax);
      return needed ? permissions.has(needed) : permissions.has('store') || permissions.has('get');
    });
    if (!peer && (permissions.size === 0 || !proposesUsable)) {
      return reject(
        Reject.Permanent,
        Reject.SourceUser,
        Reject.CallingAeNotRecognized,
        'calling AE title not a registered peer',
      );
    }

    const services = new Map<string, Set<string>>();
    for (const [model, needed] of MODEL_PERMISSION)
      if (permissions.has(needed)) services.set(model, QUERY_SYNTAXES);
    const negotiation: NegotiationPolicy = {
      // Storage contexts carry C-STORE to us and, on a C-GET association, C-STORE from us.
      acceptStorage: (uid) =>
        (permissions.has('store') || permissions.has('get')) && options.acceptStorage(uid),
      services,
    };
    return {
      negotiation,
      permissions,
      roles: (proposed: RoleSelection[]) =>
        proposed
          .filter((role) => options.acceptStorage(role.sopClassUid))
          .map((role) => ({
            sopClassUid: role.sopClassUid,
            scu: role.scu && permissions.has('store'),
            // The requestor acting as storage SCP is how C-GET returns instances (PS3.4 C.4.3).
            scp: role.scp && permissions.has('get'),
          })),
    };
  }

  /** The registered peer behind a calling AE title, if it calls from its configured host (and over TLS if required). */
  private async verifiedPeer(
    aeTitle: string,
    remote: { address: string; tls: boolean },
  ): Promise<DimsePeer | undefined> {
    const peer = this.peers.get(aeTitle);
    if (!peer) return undefined;
    if (peer.tls && !remote.tls) {
      this.options.log.warn({ callingAE: aeTitle }, 'registered peer called without TLS: treated as unknown');
      return undefined;
    }
    const addresses = await resolve(peer.host);
    if (!addresses.has(normalizeAddress(remote.address))) {
      this.options.log.warn(
        { callingAE: aeTitle, remote: remote.address, host: peer.host },
        'registered AE title from another host: treated as unknown',
      );
      return undefined;
    }
    return peer;
  }
}

function reject(result: number, source: number, reason: number, why: string): AssociationDecision {
  return { reject: { result, source, reason, why } };
}

async function resolve(host: string): Promise<Set<string>> {
  if (isIP(host)) return new Set([normalizeAddress(host)]);
  try {
    return new Set((await lookup(host, { all: true })).map((a) => normalizeAddress(a.address)));
  } catch {
    return new Set();
  }
}

/** IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are the IPv4 address. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
