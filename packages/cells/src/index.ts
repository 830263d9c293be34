/** Names, the cell tree, beat-stamped history and a deterministic digest. */
export {};
