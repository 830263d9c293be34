/** The suite a CEP transport provider author runs against their provider. */
export {};
