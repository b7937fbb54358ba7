// Signing in: the token a console link carries in its fragment (as Jupyter's token links do),
// a pasted token, or OpenID Connect (authorization code with PKCE) against the JWT issuer when
// the deployment configures a client. The token lives in this tab's sessionStorage only.

const TOKEN = 'stowage.console.token'
const PENDING = 'stowage.console.oidc'

/** The token this tab is signed in with, or `null`. */
export function currentToken() {
  return sessionStorage.getItem(TOKEN)
}

export function signOut() {
  sessionStorage.removeItem(TOKEN)
}

/** Keeps `token` for this tab. */
export function signIn(token) {
  sessionStorage.setItem(TOKEN, token.trim())
}

/**
 * Takes a token from the URL (a console link's `#token=…`, or an OIDC redirect's
 * `?code=…&state=…`), removing it from the address bar and history. Resolves to `true` if a
 * token was taken.
 */
export async function takeTokenFromUrl(oidc) {
  const fragment = new URLSearchParams(location.hash.slice(1))
  const token = fragment.get('token')
  if (token) {
    signIn(token)
    history.replaceState(null, '', location.pathname)
    return true
  }
  const query = new URLSearchParams(location.search)
  if (oidc && (query.has('code') || query.has('error'))) {
    await finishOidc(oidc, query)
    history.replaceState(null, '', location.pathname)
    return true
  }
  return false
}

function base64url(bytes) {
  let text = ''
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte)
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)))
}

async function discover(issuer) {
  const response = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`)
  if (!response.ok) throw new Error(`the issuer's OpenID configuration answered ${response.status}`)
  return response.json()
}

function redirectUri() {
  return `${location.origin}${location.pathname}`
}

/** Sends the browser to the issuer's sign-in page (authorization code with PKCE, S256). */
export async function startOidc(oidc) {
  const provider = await discover(oidc.issuer)
  const verifier = randomText()
  const state = randomText()
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)))
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }))
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: oidc.clientId,
    redirect_uri: redirectUri(),
    scope: oidc.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  })
  location.assign(`${provider.authorization_endpoint}?${query}`)
}

async function finishOidc(oidc, query) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null')
  sessionStorage.removeItem(PENDING)
  // Whatever happens next, the code leaves the address bar.
  history.replaceState(null, '', location.pathname)
  if (query.get('error')) throw new Error(`sign-in failed: ${query.get('error_description') ?? query.get('error')}`)
  if (!pending || pending.state !== query.get('state')) throw new Error('sign-in failed: the answer does not match the request (state)')
  const provider = await discover(oidc.issuer)
  const response = await fetch(provider.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: query.get('code'),
      redirect_uri: redirectUri(),
      client_id: oidc.clientId,
      code_verifier: pending.verifier,
    }),
  })
  const tokens = await response.json().catch(() => ({}))
  // The access token unless the deployment says its claims are in the ID token.
  const token = oidc.token === 'id' ? tokens.id_token : tokens.access_token
  if (!response.ok || !token) throw new Error(`sign-in failed: ${tokens.error_description ?? tokens.error ?? response.status}`)
  signIn(token)
}
