/**
 * Who asked for an ingest or a deletion, as the door that received the request knows it. Doors pass it
 * explicitly; the ingest and delete services hand it to their listeners (the audit trail) and never
 * read it themselves.
 */
export interface RequestOrigin {
  /** The HTTP request id (what the X-Request-ID response header says). */
  requestId?: string;
  /** The DIMSE association (the number in its log lines). */
  associationId?: number;
  /** The authenticated HTTP user. */
  user?: string;
  /** The peer's IP address. */
  address?: string;
}
