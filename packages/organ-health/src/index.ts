/** The health organ: validates /net/telemetry/<peer>/<mount>/ records and prunes telemetry and CEI mirrors when mounts vanish. */
export {};
