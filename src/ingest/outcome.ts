/** What storing one instance came to: a value, not an exception, so callers can report each part. */
import type { GatewayError } from '../errors.js';

export interface InstanceIdentity {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
}

export type StoreOutcome =
  | {
      ok: true;
      /** stored: new; replaced: overwrote different content; duplicate: identical content already stored. */
      status: 'stored' | 'replaced' | 'duplicate';
      instance: InstanceIdentity;
      /** Bytes received, for metrics. */
      bytes: number;
    }
  | {
      ok: false;
      error: GatewayError;
      /** Whatever could be read before the failure, for the failure report. */
      instance: Partial<InstanceIdentity>;
      bytes: number;
    };
