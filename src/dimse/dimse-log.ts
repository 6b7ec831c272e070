/** Routes dcmjs-dimse's own logging (loglevel) into the project logger, at warn and above by default. */
import dimse from 'dcmjs-dimse';
import type { Logger } from '../log.js';

type LogMethod = (...args: unknown[]) => void;

export function bridgeDimseLogging(logger: Logger): void {
  const log = dimse.log as unknown as {
    methodFactory: (name: string, level: number, loggerName: string) => LogMethod;
    setLevel: (level: string) => void;
    rebuild?: () => void;
  };
  const child = logger.child({ component: 'dcmjs-dimse' });
  log.methodFactory = (name: string) => {
    const level = name === 'trace' || name === 'debug' ? 'debug' : name === 'info' ? 'debug' : name;
    return (...args: unknown[]) => {
      const message = args.map(String).join(' ');
      (child[level as 'debug' | 'warn' | 'error'] ?? child.debug).call(child, message);
    };
  };
  // Its info lines describe every association and command; they are debug detail for us.
  log.setLevel(logger.isLevelEnabled('debug') ? 'debug' : 'warn');
  log.rebuild?.();
}
