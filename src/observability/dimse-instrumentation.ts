/**
 * Wraps the DIMSE services to time each operation for the metrics. Who sent an operation is not carried
 * here: the services pass it explicitly (the C-STORE handler gives ingest the association's origin).
 */
import type { Services } from '../dimse/acceptor.js';
import { CommandField } from '../dimse/command-set.js';
import type { GatewayMetrics } from './metrics.js';

const COMMAND_NAMES: Record<number, string> = {
  [CommandField.CEchoRQ]: 'C-ECHO',
  [CommandField.CStoreRQ]: 'C-STORE',
  [CommandField.CFindRQ]: 'C-FIND',
  [CommandField.CMoveRQ]: 'C-MOVE',
  [CommandField.CGetRQ]: 'C-GET',
};

export function commandName(commandField: number): string {
  return COMMAND_NAMES[commandField] ?? 'other';
}

export interface DimseInstrumentation {
  metrics?: Pick<GatewayMetrics, 'observeDimseOperation'>;
}

export function instrumentDimseServices(services: Services, options: DimseInstrumentation = {}): Services {
  return {
    handle(connection, request) {
      const handling = services.handle(connection, request);
      const command = commandName(request.command.commandField);
      // From the command on: a C-STORE's dataset arrives before run() is called.
      const started = process.hrtime.bigint();
      return {
        ...handling,
        run: (dataset) =>
          handling
            .run(dataset)
            .finally(() =>
              options.metrics?.observeDimseOperation(
                command,
                Number(process.hrtime.bigint() - started) / 1e9,
              ),
            ),
      };
    },
  };
}
