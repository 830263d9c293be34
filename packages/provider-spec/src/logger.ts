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

/**
 * A provider's `logger` and `onReject` options made into the two it runs with: the logger (silent
 * when none was given) and an `onReject` that first logs the refusal at debug — a flood of
 * refusals is an attack, not news — then calls the caller's own, if any.
 */
export function loggedRejects<Info extends object>(
  logger: ProviderLogger = silentLogger,
  onReject: (info: Info) => void = () => {},
): { logger: ProviderLogger; onReject: (info: Info) => void } {
  return {
    logger,
    onReject: (info) => {
      logger.debug({ ...(info as Record<string, unknown>) }, 'refused');
      onReject(info);
    },
  };
}
