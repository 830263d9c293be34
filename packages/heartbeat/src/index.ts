/** Beats, signals, enzymes, organs, CEI, OPS dossiers and episodes over a @cep/cells tree. */
export {};
