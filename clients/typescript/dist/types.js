// The shapes the SDK speaks, named once: every one is taken from the types that
// openapi-typescript generates from openapi.yaml (src/openapi.ts), so a change of the contract
// that the SDK does not follow fails its compile.
export {};
