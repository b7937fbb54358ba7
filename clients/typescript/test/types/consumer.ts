// A strict TypeScript app of the SDK (strict, exactOptionalPropertyTypes): only compiled, by
// test.sh against dist/ and by the pack test against the installed package, so a change that
// makes the published types wrong or unpleasant fails the tests.
import { Stowage, StowageError } from '@stowage/client'
import type { Collection, FileEvent, FileEventType, FileRecord, FileVersion, Grant, ListFilters, Upload, UploadOptions, Usage } from '@stowage/client'

export async function app(endpoint: string, token: () => Promise<string>, data: Blob): Promise<FileRecord[]> {
  const stowage = new Stowage({ endpoint, token, retry: { attempts: 3 } })
  const controller = new AbortController()
  const options: UploadOptions = { parallel: 2, signal: controller.signal, onProgress: ({ loaded, total }) => void (loaded / total) }
  const file: FileRecord = await stowage.files.upload(data, { name: 'a.txt', tags: ['t'], metadata: { any: { json: [1, null] } } }, options)
  const size: number | null = file.size
  void size

  const created = await stowage.files.create({ name: 'b.bin', mimeType: 'application/octet-stream', size: 10 })
  const upload: Upload = created.upload
  if ('uploadId' in upload) void upload.parts.map((p) => p.url)
  else if (upload.method === 'PUT') void upload.headers['content-type']

  try {
    await stowage.files.update(file.id, { purpose: null, tags: ['x'] }, { ifMatch: file.version })
  } catch (err) {
    if (err instanceof StowageError && err.code === 'version_mismatch') void err.detail
  }
  const filters: ListFilters = { tag: ['t'], status: 'uploaded', limit: 10 }
  const all: FileRecord[] = []
  for await (const f of stowage.files.list(filters)) all.push(f)

  const grants: Grant[] = await stowage.files.grants(file.id)
  await stowage.files.share(file.id, 'group:eng', 'writer')
  void grants
  const collections: Collection[] = await stowage.collections.list()
  const usage: Usage = await stowage.usage()
  void collections
  void usage.collections['default']?.bytes
  const stream: ReadableStream<Uint8Array> = await stowage.files.download(file.id)
  await stream.cancel()
  const live = stowage.subscribe((event: FileEvent) => void event.file.status, { onState: (state) => void state })
  live.close()

  // The trash and versions.
  await stowage.files.delete(file.id)
  await stowage.files.delete(file.id, { ifMatch: file.version })
  const inTrash: FileRecord = await stowage.files.get(file.id, { trashed: true })
  const purgeAt: string | undefined = inTrash.purgeAt
  void [purgeAt, inTrash.trashedAt]
  for await (const f of stowage.files.list({ trashed: true, tag: ['t'] })) void f.trashedAt
  const copied: FileRecord = await stowage.files.copy(file.id, { collection: 'archive', name: 'copy.txt', directory: '/old' })
  await stowage.files.copy(copied.id)
  const back: FileRecord = await stowage.files.restore(file.id)
  await stowage.files.delete(back.id, { permanent: true, ifMatch: back.version })
  await stowage.files.deleteMany([file.id])
  await stowage.files.deleteMany({ filter: { trashed: true } }, { permanent: true })
  const versions: FileVersion[] = await stowage.files.versions(file.id)
  const old = versions.find((v) => !v.current)
  if (old) {
    const bytes: ReadableStream<Uint8Array> = await stowage.files.downloadVersion(file.id, old.version)
    await bytes.cancel()
    const current: FileRecord = await stowage.files.restoreVersion(file.id, old.version)
    await stowage.files.deleteVersion(current.id, old.version)
  }
  const kinds: FileEventType[] = ['stowage.file.trashed', 'stowage.file.restored', 'stowage.file.version_restored']
  void kinds
  try {
    await stowage.files.restore(file.id)
  } catch (err) {
    if (err instanceof StowageError && (err.code === 'not_trashed' || err.code === 'current_version' || err.code === 'version_not_found')) void err.status
  }
  return all
}
