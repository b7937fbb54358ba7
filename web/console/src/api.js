// The one client of the Stowage API the console uses: the bearer token on every call,
// problem+json answers turned into errors worded as the API words them, and `If-Match`.

/** A problem answer of the API. `message` is its `detail`. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `the server answered ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.code = problem?.code ?? null
    this.problem = problem
  }
}

/**
 * A client for `endpoint` with `token` (a string, or a function returning one).
 * @param {{ endpoint: string, token: string | (() => string) }} options
 */
export function createApi({ endpoint, token }) {
  const base = endpoint.replace(/\/+$/, '')

  async function request(method, path, { body, ifMatch, query } = {}) {
    const headers = { authorization: `Bearer ${typeof token === 'function' ? token() : token}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (ifMatch != null) headers['if-match'] = `"${ifMatch}"`
    const search = query ? `?${new URLSearchParams(query)}` : ''
    const response = await fetch(`${base}${path}${search}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = null
    }
    if (!response.ok) throw new ApiError(response.status, json)
    return json
  }

  return {
    endpoint: base,
    /** `GET /files` with the given filters (empty ones left out) and cursor. */
    list(filters) {
      const query = Object.entries(filters).filter(([, v]) => v != null && v !== '')
      return request('GET', '/files', { query })
    },
    get: (id) => request('GET', `/files/${id}`),
    /** `GET /collections`: `{ items }`. */
    collections: () => request('GET', '/collections'),
    collection: (name) => request('GET', `/collections/${encodeURIComponent(name)}`),
    /** `PATCH /collections/{name}` (a merge patch of its rules; `files:admin`). */
    updateCollection: (name, patch, version) =>
      request('PATCH', `/collections/${encodeURIComponent(name)}`, { body: patch, ifMatch: version }),
    /** `GET /usage`: the tenant's counters, by collection, and its limits. */
    usage: () => request('GET', '/usage'),
    /** `PATCH /files/{id}` guarded by the version the change was made against. */
    update: (id, patch, version) => request('PATCH', `/files/${id}`, { body: patch, ifMatch: version }),
    remove: (id, version) => request('DELETE', `/files/${id}`, { ifMatch: version }),
    /**
     * A thumbnail: `{ url }` (an object URL), `{ pending: true }` while it is being made (`202`),
     * or `null` when the file gets none (`404 no_thumbnail`, or any other failure).
     */
    async thumbnail(id, size) {
      const response = await fetch(`${base}/files/${id}/thumbnail?size=${size}`, {
        headers: { authorization: `Bearer ${typeof token === 'function' ? token() : token}` },
      })
      if (response.status === 202) return { pending: true }
      if (response.status !== 200) return null
      return { url: URL.createObjectURL(await response.blob()) }
    },
  }
}
