/**
 * The process logger (pino). Patient names and IDs are never logged: only UIDs, AE titles and
 * addresses. Redacting patient attributes is a second line of defence for fields that slip into log
 * objects.
 */
import { pino, type Logger } from 'pino';
import { redactPatientData, requestSerializer } from './observability/log-hygiene.js';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'dicomweb-gateway' },
      // Request URLs are logged with the values of identifying query parameters (PatientName=...) redacted.
      serializers: { req: requestSerializer },
      formatters: { log: redactPatientData, bindings: redactPatientData },
    },
    destination as pino.DestinationStream | undefined,
  );
}
