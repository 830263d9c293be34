/**
 * `cep-node demo` — a PLACEHOLDER: the demo comes with the link, mirror and invoke
 * organs (the transport is wired; nothing turns link requests into mounts yet).
 */

/** The text the placeholder prints. */
export const DEMO_PLACEHOLDER = `cep-node demo: PLACEHOLDER — the two-peer demo is not implemented yet.

It comes with the link, mirror and invoke organs. Then it will:
  1. start two peers, earth and saturn, as separate processes on loopback;
  2. link them over TCP with per-peer pre-shared keys (authenticated channels);
  3. mirror a branch of a few thousand cells from saturn to earth;
  4. run a remote invoke from earth on saturn and print its result;
  5. print a summary: mounts, chosen providers, negotiated serializer features,
     bundles, invoke latency in beats and ms, telemetry counters; then exit 0.

Nothing was started. Until then, run a single peer with: cep-node run --config peer.yaml
`;
