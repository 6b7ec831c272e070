/**
 * The process logger (pino). Patient names and IDs are never logged: only UIDs, AE titles and
 * addresses. Redacting patient attributes is a second line of defence for fields that slip into log
 * objects.
 */
import { pino, type Logger } from 'pino';
import { redactPatientData, requestSerializer } from './observability/log-hygiene.js';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'dicomweb-gateway' },
      // Request URLs are logged with the values of identifying query parameters (PatientName=...) redacted.
      serializers: { req: requestSerializer },
      formatters: { log: redactPatientData },
    },
    destination as pino.DestinationStream | undefined,
  );
  // pino's bindings formatter applies to the root's bindings only, so children's are redacted here. Every
  // child is an Object.create() of its parent and so inherits this method.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactPatientData(bindings), options);
  } as Logger['child'];
  return logger;
}
