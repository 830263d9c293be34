/** The provider interface, the transport manager (catalog, mounts, negotiation, telemetry) and its CEI topics. */
export {};
