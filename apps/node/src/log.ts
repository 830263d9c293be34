/**
 * The peer's structured logger: pino, JSON lines by default, human-readable lines
 * when stdout is a terminal. Libraries get this logger passed in; they never print.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { Writable } from 'node:stream';
import PinoPretty from 'pino-pretty';

/** pino-pretty wants a real stream; a plain `{ write }` destination (tests) is wrapped. */
function toWritable(destination: DestinationStream): NodeJS.WritableStream {
  if (destination instanceof Writable) return destination;
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      destination.write(chunk.toString());
      callback();
    },
  });
}

export type { Logger } from 'pino';

/** How log lines are written. `auto` is pretty on a TTY, JSON otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly level: string;
  readonly format?: LogFormat;
  /** Where lines go; standard output by default. */
  readonly destination?: DestinationStream;
  /** Whether the destination is a terminal (decides `auto`); `process.stdout.isTTY` by default. */
  readonly isTTY?: boolean;
  /** Fields on every line (the peer's name, once known). */
  readonly base?: Record<string, unknown>;
}

/** Builds the logger. Writes are synchronous, so the last line before exit is never lost. */
export function createLogger(options: LoggerOptions): Logger {
  const tty = options.isTTY ?? process.stdout.isTTY === true;
  const pretty = options.format === 'pretty' || (options.format !== 'json' && tty);
  const base = { ...options.base };
  const pinoOptions = { level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime };
  if (pretty) {
    // pino-pretty in this thread (not as a worker transport): synchronous, so a
    // signal-driven exit cannot drop the final line.
    const stream = PinoPretty({
      colorize: tty,
      sync: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      ...(options.destination ? { destination: toWritable(options.destination) } : {}),
    });
    return pino(pinoOptions, stream);
  }
  return pino(pinoOptions, options.destination ?? pino.destination({ dest: 1, sync: true }));
}
