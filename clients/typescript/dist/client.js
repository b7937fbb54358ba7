// The Stowage client: one object per endpoint and token, with the API's resources as
// properties (`files`, `collections`, `uploads`) and the tenant-wide calls as methods
// (`usage`, `setLimits`, `subscribe`).
import { StowageError } from './errors.js';
import { Http } from './http.js';
import { subscribe } from './realtime.js';
import { reupload, upload, waitUploaded } from './upload.js';
/** Whether this runtime is a page (fetch follows redirects there; a manual one is opaque). */
const inPage = typeof document !== 'undefined';
export class Stowage {
    /** The API's base URL, without a trailing slash. */
    endpoint;
    files;
    collections;
    folders;
    uploads;
    #http;
    #WebSocket;
    constructor(options) {
        if (!options || typeof options.endpoint !== 'string' || options.endpoint === '') {
            throw new TypeError('new Stowage: `endpoint` is required (e.g. "http://127.0.0.1:4600")');
        }
        if (typeof options.token !== 'string' && typeof options.token !== 'function') {
            throw new TypeError('new Stowage: `token` must be a string or a function returning one');
        }
        this.#http = new Http(options.endpoint, options.token, options.fetch, options.retry);
        this.#WebSocket = options.WebSocket;
        this.endpoint = this.#http.endpoint;
        this.uploads = new Uploads(this.#http);
        this.files = new Files(this.#http, this.uploads);
        this.collections = new Collections(this.#http);
        this.folders = new Folders(this.#http);
    }
    /** Any call of the API, with the token, retries and errors of every other: resolves with its JSON. */
    request(method, path, options) {
        return this.#http.call(method, path, options);
    }
    /** `GET /usage`: bytes and files stored, by collection, and the tenant's limits. */
    usage(options = {}) {
        return this.#http.call('GET', '/usage', options);
    }
    /** `PUT /usage/limits` (`files:admin`): `0` is no limit, a limit left out the deployment's default. */
    setLimits(limits, options = {}) {
        return this.#http.call('PUT', '/usage/limits', { ...options, body: limits });
    }
    /** `GET /realtime`: where to subscribe and this identity's channels. */
    realtime(options = {}) {
        return this.#http.call('GET', '/realtime', options);
    }
    /**
     * Calls `onEvent` with each event of every file this identity may read, as it happens, once
     * per `eventId`; reconnects and resubscribes until `close()` (or `signal`).
     */
    subscribe(onEvent, options) {
        return subscribe(this.#http, this.#WebSocket, onEvent, options);
    }
}
/** File records, their bytes, versions and grants, and the trash. */
export class Files {
    #http;
    #uploads;
    constructor(http, uploads) {
        this.#http = http;
        this.#uploads = uploads;
    }
    /**
     * Uploads `data` (bytes, a Blob or File, a path in Node, or a stream) as a new file, and
     * resolves with its record once `uploaded` (unless `wait: false`): one `PUT` up to the
     * server's multipart threshold, parts in parallel above it. See `UploadOptions` for progress,
     * abort and resume.
     */
    upload(data, fields = {}, options = {}) {
        return upload(this.#context(), data, fields, options);
    }
    /** New bytes for an existing file (`POST /files/{id}/upload`); the old ones stay readable until these land. */
    reupload(id, data, options = {}) {
        return reupload(this.#context(), id, data, options);
    }
    /** `POST /files`: the record and its upload instructions, without sending any byte. */
    create(fields, options = {}) {
        return this.#http.call('POST', '/files', { ...options, body: fields });
    }
    /** `GET /files/{id}` (`trashed: true` reads it from the trash, where only it is then found). */
    get(id, options = {}) {
        const { trashed, ...rest } = options;
        return this.#http.call('GET', `/files/${encodeURIComponent(id)}`, trashed ? { ...rest, query: { trashed } } : rest);
    }
    /**
     * `POST /files/get`: the records of up to 100 ids in one call, in the order asked (a repeated
     * id once); ids unknown, expired, in the trash or not readable are in `notFound`, alike.
     */
    getMany(ids, options = {}) {
        return this.#http.call('POST', '/files/get', { ...options, body: { ids } });
    }
    /** One page of `GET /files` (`limit`, `cursor` from the previous page's `nextCursor`). */
    page(query = {}, options = {}) {
        return this.#http.call('GET', '/files', { ...options, query: query });
    }
    /**
     * Every record that matches `filters`, newest first, over every page
     * (`for await (const file of client.files.list({ tag: 'invoices' }))`); `limit` is the page size.
     * `trashed: true` lists the trash instead (the other filters combine with it).
     */
    async *list(filters = {}, options = {}) {
        let cursor = null;
        do {
            const page = await this.page(cursor ? { ...filters, cursor } : filters, options);
            yield* page.items;
            cursor = page.nextCursor;
        } while (cursor);
    }
    /** `PATCH /files/{id}`: a JSON merge patch (`null` removes an optional field). */
    update(id, patch, options = {}) {
        return this.#http.call('PATCH', `/files/${encodeURIComponent(id)}`, { ...options, body: patch });
    }
    /** `PATCH /files`: up to 100 patches by id, or one patch for every match of a filter; all or nothing. */
    async updateMany(changes, options = {}) {
        const answer = await this.#http.call('PATCH', '/files', { ...options, body: changes });
        return answer.items;
    }
    /** `PUT /files/{id}`: every mutable field (optional ones left out are removed). */
    replace(id, fields, options = {}) {
        return this.#http.call('PUT', `/files/${encodeURIComponent(id)}`, { ...options, body: fields });
    }
    /**
     * `POST /files/{id}/copy`: a new file with this one's bytes (copied in storage, any size) and
     * fields, the caller as its owner, uploaded; `collection`, `name` and `directory` left out are
     * the source's. Not its `externalId`, grants or versions. The target collection's rules and
     * limits apply as for an upload; a source without content is `409 not_uploaded`.
     */
    copy(id, target = {}, options = {}) {
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/copy`, { ...options, body: target });
    }
    /**
     * `DELETE /files/{id}`: the record and its bytes, or into the trash where the file's collection
     * keeps one (`trashDays`); `permanent: true` skips the trash, and deletes a file already in it.
     */
    async delete(id, options = {}) {
        const { permanent, ...rest } = options;
        await this.#http.call('DELETE', `/files/${encodeURIComponent(id)}`, permanent ? { ...rest, query: { permanent } } : rest);
    }
    /**
     * `POST /files/delete`: by ids (any number: sent 1,000 a call), or every file a filter matches
     * (a call per page of matches, until none remain). `permanent: true` skips the trash; with a
     * filter of `trashed: true` it empties the trash.
     */
    async deleteMany(which, options = {}) {
        const { permanent, ...call } = options;
        const extra = permanent ? { permanent } : {};
        const result = { deleted: [], notFound: [], nextCursor: null };
        if (Array.isArray(which)) {
            for (let i = 0; i < which.length; i += 1000) {
                const answer = await this.#http.call('POST', '/files/delete', { ...call, body: { ids: which.slice(i, i + 1000), ...extra } });
                result.deleted.push(...answer.deleted);
                result.notFound.push(...answer.notFound);
            }
            return { deleted: result.deleted, notFound: result.notFound };
        }
        let cursor = null;
        do {
            const body = cursor ? { filter: which.filter, cursor, ...extra } : { filter: which.filter, ...extra };
            const answer = await this.#http.call('POST', '/files/delete', { ...call, body });
            result.deleted.push(...answer.deleted);
            result.notFound.push(...answer.notFound);
            cursor = answer.nextCursor;
        } while (cursor);
        return result;
    }
    /** `POST /files/{id}/restore`: brings a file back from the trash as it was (a live one is `409 not_trashed`). */
    restore(id, options = {}) {
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/restore`, options);
    }
    /**
     * `GET /files/{id}/versions`: the file's contents, the current one first, then the ones its
     * collection keeps (`versions`), newest first.
     */
    async versions(id, options = {}) {
        return (await this.#http.call('GET', `/files/${encodeURIComponent(id)}/versions`, options)).items;
    }
    /** One version's bytes as a stream, straight from storage, as `download` (an unknown version is `404 version_not_found`). */
    async downloadVersion(id, version, options = {}) {
        const { signal } = options;
        const path = `/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}/content`;
        // A page cannot read a redirect's Location: it follows it (the token is not sent to another origin).
        let response = await this.#http.call('GET', path, { signal, raw: true, redirect: inPage ? 'follow' : 'manual' });
        const location = response.status === 302 ? response.headers.get('location') : null;
        if (location)
            response = await this.#http.storageFetch(location, signal ? { signal } : {});
        if (!response.ok || !response.body) {
            await response.body?.cancel().catch(() => { });
            throw new StowageError({ status: response.status, code: 'download_failed', detail: `the download of version ${version} of file ${id} answered HTTP ${response.status}`, method: 'GET', path: location ?? path });
        }
        return response.body;
    }
    /**
     * `POST /files/{id}/versions/{version}/restore`: that version's content becomes the current one
     * (a copy; the replaced one is kept as a version). The current version is `409 current_version`.
     */
    restoreVersion(id, version, options = {}) {
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}/restore`, options);
    }
    /** `DELETE /files/{id}/versions/{version}`: a kept version and its bytes (the current one is `409 current_version`). */
    async deleteVersion(id, version, options = {}) {
        await this.#http.call('DELETE', `/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`, options);
    }
    /** A presigned download URL (`GET /files/{id}/content`): `expiresIn` seconds makes it a share link. */
    async downloadUrl(id, options = {}) {
        const { signal, expiresIn, disposition } = options;
        const path = `/files/${encodeURIComponent(id)}/content`;
        const response = await this.#http.call('GET', path, { signal, query: { expiresIn, disposition }, raw: true, redirect: 'manual' });
        const location = response.headers.get('location');
        if (response.status === 302 && location)
            return location;
        // A page cannot read a redirect's Location: the record's `contentUrl` is a fresh one.
        const record = await this.get(id, { signal });
        if (!record.contentUrl)
            throw new StowageError({ status: 409, code: 'not_uploaded', detail: `file ${id} has no content`, method: 'GET', path });
        return record.contentUrl;
    }
    /**
     * `POST /files/links`: presigned download links of up to 100 files in one call, in the order
     * asked; ids not found are in `notFound` (as for `getMany`), files without content in
     * `notUploaded`. `expiresIn` seconds and `disposition` apply to every link.
     */
    links(ids, options = {}) {
        const { disposition, expiresIn, ...rest } = options;
        return this.#http.call('POST', '/files/links', { ...rest, query: { disposition, expiresIn }, body: { ids } });
    }
    /** The file's bytes as a stream, straight from storage (the token is never sent there). */
    async download(id, options = {}) {
        const url = await this.downloadUrl(id, options);
        const init = options.signal ? { signal: options.signal } : {};
        const response = await this.#http.storageFetch(url, init);
        if (!response.ok || !response.body) {
            await response.body?.cancel().catch(() => { });
            throw new StowageError({ status: response.status, code: 'download_failed', detail: `the download of file ${id} answered HTTP ${response.status}`, method: 'GET', path: url });
        }
        return response.body;
    }
    /** A thumbnail of an image (`size` 64, 256 or 1024; `wait` up to 10 s for it to be made). */
    async thumbnail(id, options = {}) {
        const { signal, size, wait } = options;
        let response;
        try {
            response = await this.#http.call('GET', `/files/${encodeURIComponent(id)}/thumbnail`, {
                signal,
                query: { size, wait },
                raw: true,
                redirect: inPage ? 'follow' : 'manual',
            });
        }
        catch (err) {
            if (err instanceof StowageError && err.code === 'no_thumbnail')
                return { status: 'none' };
            throw err;
        }
        if (response.status === 202) {
            const body = (await response.json().catch(() => ({})));
            return { status: 'pending', retryAfter: body.retryAfter ?? 1 };
        }
        const location = response.status === 302 ? response.headers.get('location') : null;
        if (location)
            response = await this.#http.storageFetch(location, signal ? { signal } : {});
        if (!response.ok)
            throw new StowageError({ status: response.status, code: 'download_failed', detail: `the thumbnail of file ${id} answered HTTP ${response.status}` });
        return { status: 'ready', blob: await response.blob() };
    }
    /** The file's grants (who else may read it, or also change and delete it). */
    async grants(id, options = {}) {
        return (await this.get(id, options)).grants;
    }
    /** Replaces the file's grants (`PATCH` of `grants`; only its owner and apps may). */
    setGrants(id, grants, options = {}) {
        return this.update(id, { grants: grants.length > 0 ? grants : null }, options);
    }
    /** Lets `principal` (`user:<id>` or `group:<name>`) read the file, or also change and delete it (`writer`). */
    share(id, principal, role, options = {}) {
        return this.#changeGrants(id, (grants) => [...grants.filter((g) => g.principal !== principal), { principal, role }], options);
    }
    /** Takes `principal`'s grant away. */
    unshare(id, principal, options = {}) {
        return this.#changeGrants(id, (grants) => grants.filter((g) => g.principal !== principal), options);
    }
    /** Read, change, write with `If-Match`; a change made elsewhere in between is read again (3 tries). */
    async #changeGrants(id, change, options) {
        for (let attempt = 1;; attempt++) {
            const record = await this.get(id, options);
            try {
                return await this.setGrants(id, change(record.grants), { ...options, ifMatch: record.version });
            }
            catch (err) {
                if (!(err instanceof StowageError && err.code === 'version_mismatch') || attempt === 3)
                    throw err;
            }
        }
    }
    #context() {
        return { http: this.#http, limits: () => this.#uploads.limits() };
    }
}
/** The steps of an upload, one call each, for apps (and adapters such as Uppy's) that drive their own. */
export class Uploads {
    #http;
    #limits = null;
    constructor(http) {
        this.#http = http;
    }
    /** `GET /files/limits` (asked once per client; a failure is asked again next time). */
    limits(options = {}) {
        if (!this.#limits) {
            this.#limits = this.#http.call('GET', '/files/limits', options);
            this.#limits.catch(() => {
                this.#limits = null;
            });
        }
        return this.#limits;
    }
    /** `POST /files/{id}/upload`: a new upload for an existing record. */
    start(id, body = {}, options = {}) {
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload`, { ...options, body });
    }
    /** `GET /files/{id}/upload/parts`: the parts the storage holds. */
    async parts(id, options = {}) {
        return (await this.#http.call('GET', `/files/${encodeURIComponent(id)}/upload/parts`, options)).parts;
    }
    /** `POST /files/{id}/upload/parts`: fresh URLs for these parts. */
    signParts(id, partNumbers, options = {}) {
        const body = options.expiresIn ? { partNumbers, uploadUrlExpiresIn: options.expiresIn } : { partNumbers };
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload/parts`, { signal: options.signal, body });
    }
    /** `POST /files/{id}/upload/complete` (with `parts`, their ETags are checked too). */
    complete(id, parts, options = {}) {
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload/complete`, { ...options, body: parts ? { parts } : undefined });
    }
    /** `DELETE /files/{id}/upload`: abandons the open upload (its parts go). */
    abort(id, options = {}) {
        return this.#http.call('DELETE', `/files/${encodeURIComponent(id)}/upload`, options);
    }
    /** `POST /files/{id}/upload/sign`: signs one S3 request of the open upload (Uppy's `signRequest`). */
    sign(id, request, options = {}) {
        return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload/sign`, { ...options, body: request });
    }
    /** Reads the record until it is `uploaded` (a `StowageError` `upload_failed` if it failed). */
    waitUploaded(id, options = {}) {
        const wait = {};
        if (options.signal)
            wait.signal = options.signal;
        if (options.timeoutMs !== undefined)
            wait.waitTimeoutMs = options.timeoutMs;
        return waitUploaded({ http: this.#http, limits: () => this.limits() }, id, wait);
    }
}
/** Collections and their rules (`files:admin` to change them). */
export class Collections {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /** `POST /collections`. */
    create(collection, options = {}) {
        return this.#http.call('POST', '/collections', { ...options, body: collection });
    }
    /** `GET /collections`: every collection of the tenant. */
    async list(options = {}) {
        return (await this.#http.call('GET', '/collections', options)).items;
    }
    /** `GET /collections/{name}`. */
    get(name, options = {}) {
        return this.#http.call('GET', `/collections/${encodeURIComponent(name)}`, options);
    }
    /** `PATCH /collections/{name}`: a merge patch of its rules (`null` removes one). */
    update(name, patch, options = {}) {
        return this.#http.call('PATCH', `/collections/${encodeURIComponent(name)}`, { ...options, body: patch });
    }
    /** `DELETE /collections/{name}` (only an empty one). */
    async delete(name, options = {}) {
        await this.#http.call('DELETE', `/collections/${encodeURIComponent(name)}`, options);
    }
}
/** Folders: a file's `directory` places it; these browse, make, move and delete them. */
export class Folders {
    #http;
    constructor(http) {
        this.#http = http;
    }
    /**
     * `GET /folders`: every subfolder of `parent` (default `/`) that holds a file the caller may
     * read, or was made with `create`, in name order, across every page.
     */
    async list(parent = '/', options = {}) {
        const folders = [];
        let cursor = null;
        do {
            const query = { parent };
            if (options.limit !== undefined)
                query.limit = options.limit;
            if (cursor)
                query.cursor = cursor;
            const page = await this.#http.call('GET', '/folders', { signal: options.signal, query });
            folders.push(...page.items);
            cursor = page.nextCursor;
        } while (cursor);
        return folders;
    }
    /** `POST /folders`: makes a folder that shows while empty (making it again is fine). */
    create(path, options = {}) {
        return this.#http.call('POST', '/folders', { ...options, body: { path } });
    }
    /**
     * `POST /folders/move`, repeated until done: moves `from` and everything below it to `to`.
     * Resolves with the totals: files moved, and files left because the caller may not change them.
     */
    async move(from, to, options = {}) {
        let moved = 0;
        let skipped = 0;
        let cursor = null;
        do {
            const body = cursor ? { from, to, cursor } : { from, to };
            const step = await this.#http.call('POST', '/folders/move', { ...options, body });
            moved += step.moved;
            skipped += step.skipped;
            cursor = step.nextCursor;
        } while (cursor);
        return { moved, skipped };
    }
    /** `DELETE /folders`: deletes a folder made with `create` that holds nothing. */
    async delete(path, options = {}) {
        await this.#http.call('DELETE', '/folders', { ...options, query: { path } });
    }
}
