/** A CEP transport provider over TCP (node:net), with peer authentication and hard limits. */
export {};
