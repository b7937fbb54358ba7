// The whole flow through a client generated from openapi.yaml, as an app would write it with
// openapi-typescript + openapi-fetch; it is only compiled (strict), so a contract change that
// makes generated clients wrong or unpleasant fails the test command:
// - only `name` and `mimeType` are required to create (no field is forced by a `default:`);
// - `metadata` holds any JSON (not an object that can hold nothing);
// - the upload instructions narrow by `uploadId` and `method`;
// - every error answer is typed: a problem with `code` and `detail`, or API Gateway's 429.
import createClient from 'openapi-fetch'
import type { components, paths } from './generated/schema'

type FileRecord = components['schemas']['File']
type Upload = components['schemas']['Upload']
type Problem = components['schemas']['Problem']
/** API Gateway's own throttling answer (`429`), which is not problem+json. */
type Throttled = { message?: string }

function problem(error: Problem | Throttled): Error {
  if ('code' in error) return new Error(`${error.status} ${error.code}: ${error.detail}`)
  return new Error(`throttled: ${error.message ?? ''}`)
}

async function send(upload: Upload, bytes: Blob): Promise<void> {
  if ('uploadId' in upload) {
    for (const part of upload.parts) {
      const start = (part.partNumber - 1) * upload.partSize
      await fetch(part.url, { method: 'PUT', body: bytes.slice(start, start + part.size) })
    }
  } else if (upload.method === 'PUT') {
    await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: bytes })
  } else {
    const form = new FormData()
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value)
    form.append('file', bytes)
    await fetch(upload.url, { method: 'POST', body: form })
  }
}

export async function flow(baseUrl: string, token: string, bytes: Blob): Promise<FileRecord[]> {
  const client = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } })

  const created = await client.POST('/files', { body: { name: 'notes.txt', mimeType: 'text/plain' } })
  if (created.error) throw problem(created.error)
  const { file, upload } = created.data
  await send(upload, bytes)
  if (upload.expiresAt.length === 0) throw new Error('an upload always expires')

  const got = await client.GET('/files/{id}', { params: { path: { id: file.id } } })
  if (got.error) throw problem(got.error)
  const metadata: Record<string, unknown> = got.data.metadata
  const size: number | null = got.data.size

  const patched = await client.PATCH('/files/{id}', {
    params: { path: { id: file.id }, header: { 'If-Match': `"${got.data.version}"` } },
    body: { metadata: { ...metadata, lang: 'en', reviewed: true, size } },
  })
  if (patched.error) throw problem(patched.error)

  const reupload = await client.POST('/files/{id}/upload', { params: { path: { id: file.id } }, body: {} })
  if (reupload.error) throw problem(reupload.error)
  await send(reupload.data.upload, bytes)

  const items: FileRecord[] = []
  let cursor: string | undefined
  do {
    const page = await client.GET('/files', { params: { query: { tag: ['a'], ...(cursor ? { cursor } : {}) } } })
    if (page.error) throw problem(page.error)
    items.push(...page.data.items)
    cursor = page.data.nextCursor ?? undefined
  } while (cursor)

  const deleted = await client.POST('/files/delete', { body: { ids: items.map((f) => f.id) } })
  if (deleted.error) throw problem(deleted.error)
  return items
}
