/** Types of wasm.mjs (the test that checks the committed bytes imports it). */
export declare const WAT_PATH: URL;
export declare const MODULE_PATH: URL;
export declare function assembleGhash(): Promise<Uint8Array>;
export declare function moduleText(bytes: Uint8Array): string;
