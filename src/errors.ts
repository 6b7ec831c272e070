/**
 * The gateway's one error type. Each code maps once to an HTTP status (PS3.18) and once to a DIMSE status
 * (PS3.4 / PS3.7 Annex C); adapters never invent status numbers of their own.
 */

export const ERROR_TABLE = {
  /** Not DICOM, truncated, or structurally broken. */
  INVALID_DICOM: { http: 400, dimse: 0xc000, title: 'Cannot understand' },
  /** A required attribute is missing or is not a valid UID. */
  INVALID_ATTRIBUTE: { http: 400, dimse: 0xc000, title: 'Invalid or missing attribute' },
  /** The dataset does not agree with its context: study UID of the STOW path, SOP UIDs of the C-STORE command. */
  DATASET_MISMATCH: { http: 409, dimse: 0xa900, title: 'Data set does not match' },
  SOP_CLASS_NOT_SUPPORTED: { http: 409, dimse: 0x0122, title: 'SOP class not supported' },
  TRANSFER_SYNTAX_NOT_SUPPORTED: { http: 415, dimse: 0xc122, title: 'Transfer syntax not supported' },
  /** Same SOP Instance UID, different content, and overwriting is off (PS3.7 C.5: Duplicate SOP Instance). */
  DUPLICATE_CONFLICT: { http: 409, dimse: 0x0111, title: 'Duplicate SOP instance with different content' },
  OUT_OF_RESOURCES: { http: 507, dimse: 0xa700, title: 'Out of resources' },
  PAYLOAD_TOO_LARGE: { http: 413, dimse: 0xa700, title: 'Payload too large' },
  TOO_MANY_REQUESTS: { http: 429, dimse: 0xa700, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { http: 431, dimse: 0xa700, title: 'Request header fields too large' },
  REQUEST_TIMEOUT: { http: 408, dimse: 0xa700, title: 'Request timeout' },
  PROCESSING_FAILURE: { http: 500, dimse: 0x0110, title: 'Processing failure' },
  NOT_FOUND: { http: 404, dimse: 0xc000, title: 'Not found' },
  BAD_REQUEST: { http: 400, dimse: 0xa900, title: 'Bad request' },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, dimse: 0xc000, title: 'Unsupported media type' },
  NOT_ACCEPTABLE: { http: 406, dimse: 0xc000, title: 'Not acceptable' },
  UNAUTHORIZED: { http: 401, dimse: 0x0124, title: 'Unauthorized' },
  FORBIDDEN: { http: 403, dimse: 0x0124, title: 'Forbidden' },
  UNKNOWN_MOVE_DESTINATION: { http: 400, dimse: 0xa801, title: 'Move destination unknown' },
  CANCELLED: { http: 499, dimse: 0xfe00, title: 'Cancelled' },
  SHUTTING_DOWN: { http: 503, dimse: 0xa700, title: 'Shutting down' },
} as const satisfies Record<string, { http: number; dimse: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export class GatewayError extends Error {
  readonly httpStatus: number;
  readonly dimseStatus: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GatewayError';
    this.httpStatus = ERROR_TABLE[code].http;
    this.dimseStatus = ERROR_TABLE[code].dimse;
  }
}

/** DIMSE status values that are not errors (PS3.7 C.1-C.3). */
export const DimseStatus = {
  Success: 0x0000,
  Pending: 0xff00,
  PendingWithWarnings: 0xff01,
  Cancel: 0xfe00,
  /** Coercion of data elements (PS3.4 B.2.3). */
  WarningCoercion: 0xb000,
  /** Sub-operations complete, one or more failures or warnings (PS3.4 C.4.2.1.5). */
  WarningSubOperations: 0xb000,
} as const;

/** Turns anything thrown into a GatewayError; unknown errors become processing failures. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // SQLITE_FULL is better-sqlite3's code for a full disk under the index.
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') {
    return new GatewayError('OUT_OF_RESOURCES', 'no space left on the storage device', { cause: error });
  }
  if (code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM') {
    return new GatewayError('OUT_OF_RESOURCES', 'out of system resources', { cause: error });
  }
  return new GatewayError('PROCESSING_FAILURE', 'internal processing failure', { cause: error });
}
