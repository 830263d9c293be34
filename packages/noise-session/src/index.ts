/** Noise_XXpsk3 encrypted, mutually authenticated sessions over any duplex byte stream (and a datagram variant), with public-key peer identities. */
export {};
