// An invoke handler: adds 1 to a u64 payload. Runs inside a beat on saturn,
// so it is synchronous and reads no clock.
export default {
  description: 'adds 1 to a u64 payload',
  run(call) {
    if (call.payload?.type !== 'u64') return { status: 'reject', note: 'add expects a u64 payload' };
    if (call.payload.value === 0xffffffffffffffffn) return { status: 'reject', note: 'add: the result would not fit a u64' };
    return { status: 'ok', result: { type: 'u64', value: call.payload.value + 1n } };
  },
};
