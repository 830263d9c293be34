/** An in-process CEP transport provider, reliable or deliberately unreliable, with test hooks. */
export {};
