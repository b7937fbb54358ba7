// What a failed call of the Stowage API looks like to an app: one error class carrying the
// HTTP status and the problem document's stable `code` and `detail` (RFC 9457).

import type { components } from './openapi.js'

/** A problem document as the API sends it (`application/problem+json`). */
export type Problem = components['schemas']['Problem']

/** A `code` of the API's error table, or a code of the SDK's own (`upload_failed`, `wait_timeout`). */
export type ErrorCode = Problem['code'] | 'upload_failed' | 'wait_timeout' | 'part_failed' | (string & {})

/** What a `StowageError` is built from. */
export interface StowageErrorInit {
  status: number
  code?: string | null
  detail?: string | null
  problem?: unknown
  method?: string
  path?: string
}

/**
 * An answer of the Stowage API that is not a success (its `status`, and the problem's `code`
 * and `detail`), or an upload that did not end `uploaded` (`status` 0, `code` `upload_failed`).
 * `message` is the API's own wording (`detail`).
 */
export class StowageError extends Error {
  /** The HTTP status (`0` for a failure the SDK found itself, such as a failed upload). */
  readonly status: number
  /** The problem's stable code (`not_found`, `version_mismatch`, …); `null` when the answer had none (API Gateway's `429`). */
  readonly code: ErrorCode | null
  /** The problem's human-readable detail. */
  readonly detail: string
  /** The field errors of a `validation_failed` problem. */
  readonly errors: { field: string; message: string }[]
  /** The whole problem document as sent, or `null` when the body was not JSON. */
  readonly problem: Problem | null
  /** The request that failed, e.g. `PATCH` and `/files/01K…`. */
  readonly method: string
  readonly path: string

  constructor(init: StowageErrorInit) {
    const problem = isObject(init.problem) ? (init.problem as Problem) : null
    const detail = init.detail ?? problem?.detail ?? `${init.method ?? 'the request'} ${init.path ?? ''} answered HTTP ${init.status}`.replace(/\s+/g, ' ')
    super(detail)
    this.name = 'StowageError'
    this.status = init.status
    this.code = init.code ?? problem?.code ?? null
    this.detail = detail
    this.errors = Array.isArray(problem?.errors) ? problem.errors : []
    this.problem = problem
    this.method = init.method ?? ''
    this.path = init.path ?? ''
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
