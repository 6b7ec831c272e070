/**
 * Presentation context negotiation (PS3.8 9.3.2.2, PS3.7 D.3.3): Verification is always accepted;
 * storage SOP classes we accept get the first proposed transfer syntax we can store as received.
 */
import dimse from 'dcmjs-dimse';
import { allTransferSyntaxes } from '../dicom/transfer-syntax.js';

const { PresentationContextResult, SopClass } = dimse.constants;

const VERIFICATION_TRANSFER_SYNTAXES = new Set([
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.2',
]);
const STORABLE_TRANSFER_SYNTAXES = new Set(allTransferSyntaxes().map((ts) => ts.uid));

type Association = InstanceType<typeof dimse.association.Association>;

export interface NegotiationPolicy {
  acceptStorage: (sopClassUid: string) => boolean;
}

/** Sets each proposed context's result; returns how many were accepted. */
export function negotiatePresentationContexts(association: Association, policy: NegotiationPolicy): number {
  let accepted = 0;
  for (const { id } of association.getPresentationContexts()) {
    const context = association.getPresentationContext(id);
    const abstractSyntax = context.getAbstractSyntaxUid();
    let supported: Set<string>;
    if (abstractSyntax === SopClass.Verification) supported = VERIFICATION_TRANSFER_SYNTAXES;
    else if (policy.acceptStorage(abstractSyntax)) supported = STORABLE_TRANSFER_SYNTAXES;
    else {
      context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
      continue;
    }
    // The proposer lists its preference first; store what it prefers to send.
    const chosen = context.getTransferSyntaxUids().find((ts) => supported.has(ts));
    if (chosen) {
      context.setResult(PresentationContextResult.Accept, chosen);
      accepted++;
    } else {
      context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
    }
  }
  return accepted;
}
