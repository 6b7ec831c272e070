/**
 * Presentation context negotiation (PS3.8 9.3.2.2, PS3.7 D.3.3): each proposed context is accepted with
 * the first proposed transfer syntax we support for its abstract syntax, or rejected with the reason.
 */
import { allTransferSyntaxes } from '../dicom/transfer-syntax.js';
import { ContextResult, type AcceptedContext, type ProposedContext } from './pdu.js';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);
const STORABLE = new Set(allTransferSyntaxes().map((ts) => ts.uid));

export interface NegotiationPolicy {
  /** Storage SOP classes accepted for C-STORE. */
  acceptStorage: (sopClassUid: string) => boolean;
  /** Other abstract syntaxes (query/retrieve models), each with the transfer syntaxes it accepts. */
  services?: Map<string, Set<string>>;
}

export function negotiatePresentationContexts(
  proposed: ProposedContext[],
  policy: NegotiationPolicy,
): AcceptedContext[] {
  return proposed.map((context) => {
    const supported =
      context.abstractSyntax === VERIFICATION_SOP_CLASS
        ? UNCOMPRESSED
        : (policy.services?.get(context.abstractSyntax) ??
          (policy.acceptStorage(context.abstractSyntax) ? STORABLE : undefined));
    if (!supported) {
      return {
        id: context.id,
        result: ContextResult.AbstractSyntaxNotSupported,
        transferSyntax: context.transferSyntaxes[0] ?? '',
      };
    }
    // The proposer lists its preference first; store what it prefers to send.
    const chosen = context.transferSyntaxes.find((ts) => supported.has(ts));
    return chosen
      ? { id: context.id, result: ContextResult.Acceptance, transferSyntax: chosen }
      : {
          id: context.id,
          result: ContextResult.TransferSyntaxesNotSupported,
          transferSyntax: context.transferSyntaxes[0] ?? '',
        };
  });
}
