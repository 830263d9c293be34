/** A CEP transport provider over UDP (node:dgram) for upd_latest gauges. */
export {};
