// The Stowage console: sign-in, then the file list with the upload panel (`#/`) or one file
// (`#/files/<id>`). The API is the origin the console is served from; `config.json` beside the
// page says whether OpenID Connect sign-in is offered and which claims name the tenant and user.

import { groupsOf, mayCreate } from './access.js'
import { currentToken, signIn, signOut, startOidc, takeTokenFromUrl } from './auth.js'
import { field, h, notice, show } from './dom.js'
import { collectionPicker } from './collections.js'
import { filePage } from './file.js'
import { fileList } from './list.js'
import { uploadPanel } from './upload.js'
import { Stowage } from '@stowage/client'

const root = document.getElementById('app')
const who = document.getElementById('who')

/** The API's base URL: this page's origin, plus any path prefix before `/console/`. */
function apiEndpoint() {
  const prefix = location.pathname.replace(/\/console(\/.*)?$/, '')
  return `${location.origin}${prefix}`
}

async function loadConfig() {
  const response = await fetch(new URL('config.json', location.href.split('#')[0]))
  if (!response.ok) throw new Error(`config.json answered ${response.status}`)
  return response.json()
}

/** Whether the claims grant `files:admin` (an app's token), as the API reads `scope`/`scp`. */
function isAdmin(claims) {
  const scopes = [claims.scope, claims.scp].flat().filter((s) => typeof s === 'string')
  return scopes.some((s) => s.split(/[\s,]+/).includes('files:admin'))
}

/** The claims of a JWT, or `null` (the console only shows them; the API verifies tokens). */
function claimsOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), '=')))
  } catch {
    return null
  }
}

function signInPage(config, problem) {
  const form = h(
    'form',
    {
      class: 'sign-in-token',
      onsubmit: (e) => {
        e.preventDefault()
        const token = e.target.elements.token.value.trim()
        if (!token) return
        signIn(token)
        start(config)
      },
    },
    field(
      'Bearer token',
      h('input', { name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' }),
    ),
    h('button', { type: 'submit' }, 'Sign in'),
  )
  who.replaceChildren()
  show(
    root,
    h(
      'section',
      { class: 'sign-in', 'aria-labelledby': 'sign-in-heading' },
      h('h2', { id: 'sign-in-heading' }, 'Sign in'),
      problem ? notice('error', problem) : null,
      config.oidc
        ? [
            h(
              'button',
              {
                type: 'button',
                class: 'primary',
                onclick: () => startOidc(config.oidc).catch((err) => show(root, notice('error', err.message))),
              },
              `Sign in with ${new URL(config.oidc.issuer).host}`,
            ),
            h('p', {}, 'Or paste a token the API accepts:'),
          ]
        : h('p', {}, 'Paste a token the API accepts (stowage-local prints a link that signs you in).'),
      form,
    ),
  )
  form.elements.token.focus()
}

let session = null

function stopSession() {
  session?.live?.close()
  session?.list.stop()
  session?.page?.stop()
  session?.upload.close()
  session = null
}

function route() {
  if (!session) return
  const match = /^#\/files\/([^/]+)$/.exec(location.hash)
  session.page?.stop()
  session.page = null
  if (match) {
    session.page = filePage(session.client, decodeURIComponent(match[1]), {
      me: session.me,
      onBack: (message) => {
        session.message = message ?? null
        location.hash = '#/'
      },
    })
    session.home.hidden = true
    show(session.pageSlot, session.page.element)
  } else {
    session.pageSlot.replaceChildren()
    session.home.hidden = false
    session.list.refresh()
  }
  // A message from the page left (e.g. "… was deleted.") shows once, on the next page.
  show(session.flash, session.message ? notice('info', session.message) : null)
  session.message = null
}

function start(config) {
  stopSession()
  const token = currentToken()
  // The one client of the API in the page: the list, the file page, the collections, the
  // upload panel (through the Uppy adapter) and the live channel all call through it.
  const client = new Stowage({ endpoint: apiEndpoint(), token: () => currentToken() })
  const claims = claimsOf(token) ?? {}
  const tenant = claims[config.tenantClaim]
  const user = claims[config.userClaim]
  const me = { user, groups: groupsOf(claims[config.groupsClaim ?? 'cognito:groups']), app: isAdmin(claims) }
  who.replaceChildren(
    tenant || user ? h('span', {}, [tenant, user].filter(Boolean).join(' / ')) : null,
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          stopSession()
          signOut()
          signInPage(config)
        },
      },
      'Sign out',
    ),
  )

  // The upload panel is made first: the list tells it which folder files go to.
  let upload = null
  const list = fileList(client, {
    me,
    onFolder: (path) => upload?.setDirectory(path),
    onOpen: (id) => {
      location.hash = `#/files/${encodeURIComponent(id)}`
    },
    onRefused: (err) => {
      // A token the API refuses: back to sign-in, saying why.
      stopSession()
      signOut()
      signInPage(config, `The API refused the token: ${err.message}`)
    },
  })
  upload = uploadPanel(client, { onChange: () => list.refresh() })
  const picker = collectionPicker(client, {
    admin: isAdmin(claims),
    onChange: (name) => {
      list.setCollection(name)
      upload.setCollection(name)
    },
    // No upload is offered into a collection the person may not write in.
    onTarget: (collection) => {
      upload.element.hidden = !mayCreate(me, collection)
    },
  })
  picker.refresh()
  const flash = h('div', { class: 'flash' })
  const home = h('div', { class: 'home' }, picker.element, upload.element, list.element)
  const pageSlot = h('div')
  // Changes as they happen (realtime); the list polls only while this is not live.
  const indicator = h('span', { class: 'live-state', role: 'status', dataset: { state: 'connecting' } }, 'Connecting…')
  who.prepend(indicator)
  const words = { connecting: 'Connecting…', live: 'Live', disconnected: 'Reconnecting…', unavailable: 'Polling' }
  const live = client.subscribe(() => list.changed(), {
    onState: (state, detail) => {
      indicator.dataset.state = state
      indicator.textContent = words[state] ?? state
      list.setLive(state === 'live')
      // Back after a gap: read what changed meanwhile.
      if (state === 'live' && detail?.resumed) list.changed()
    },
  })
  session = { client, me, list, upload, flash, home, pageSlot, live, page: null, message: null }
  show(root, flash, home, pageSlot)
  upload.mount()
  route()
}

window.addEventListener('hashchange', route)

async function boot() {
  let config
  try {
    config = await loadConfig()
  } catch (err) {
    show(root, notice('error', `The console cannot start: ${err.message}`))
    return
  }
  try {
    await takeTokenFromUrl(config.oidc)
  } catch (err) {
    signInPage(config, err.message)
    return
  }
  if (currentToken()) start(config)
  else signInPage(config)
}

boot()
