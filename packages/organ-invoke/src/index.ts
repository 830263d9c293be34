/** The invoke organ: run a signal on a remote runtime over a reliable, ordered mount and get its result, with the security checks on both sides. */
export {};
