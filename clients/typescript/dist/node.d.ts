/** Whether this runtime is Node itself (not a page, Deno or Bun, whose `fetch` is their own). */
export declare function inNode(): boolean;
/** `fetch`, for the SDK's requests to storage, over `node:http`/`node:https`. */
export declare function nodeFetch(input: string | URL, init?: RequestInit): Promise<Response>;
