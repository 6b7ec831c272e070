/**
 * The process logger (pino). Patient names and IDs are never logged: only UIDs, AE titles and
 * addresses. The redact list is a second line of defence for fields that slip into log objects.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'dicomweb-gateway' },
      redact: {
        paths: ['patientName', 'patientId', '*.patientName', '*.patientId', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination as pino.DestinationStream | undefined,
  );
}
