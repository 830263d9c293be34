/**
 * The logger a provider accepts (an option, usually `logger`), scoped with `child` per channel.
 * Its shape is the common one of structured loggers — fields first, then the message — so a
 * pino logger (and most others) can be passed as it is. Providers log what an operator needs
 * to see about the medium (reconnects, refusals, closes); frames are never logged.
 */
export interface ProviderLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /** A logger that adds `bindings` to every line (a provider makes one per channel: peer, mount). */
  child(bindings: Record<string, unknown>): ProviderLogger;
}

const ignore = (): void => undefined;

/** The logger of a provider given none: says nothing. */
export const silentLogger: ProviderLogger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
  child: () => silentLogger,
};
