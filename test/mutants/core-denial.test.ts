/**
 * The denial response of packages/core/src/http/denial.ts where the StrykerJS run of issue 15
 * item 4 (session 6) found it unchecked: a `message` function answering text to a JSON client or
 * answering null, the Content-Type bytes, and the Accept parser's quality values (a `q` after other
 * parameters, a parameter that only looks like `q`, a `q` outside 0-1, a repeated media range).
 */
import { type Decision, fixedWindow } from '@tollgate/core'
import {
  denialResponse,
  JSON_CONTENT_TYPE,
  parseHttpOptions,
  prefersText,
  TEXT_CONTENT_TYPE,
} from '@tollgate/core/http'
import { describe, expect, it } from 'vitest'

const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 })
const denied: Decision = {
  allowed: false,
  limit: 5,
  remaining: 0,
  resetMs: 30_000,
  retryAfterMs: 1_234,
}

describe('the denial body', () => {
  it('sends text a message function answers as { error, retryAfterMs } to a JSON client', () => {
    const config = parseHttpOptions({ algorithm, message: () => 'Slow "down"' }, 'test()')
    expect(denialResponse(config, {}, denied, 'application/json')).toEqual({
      status: 429,
      contentType: 'application/json; charset=utf-8',
      body: '{"error":"Slow \\"down\\"","retryAfterMs":1234}',
    })
  })

  it('rejects a message function answering null with a TypeError naming it', () => {
    const config = parseHttpOptions({ algorithm, message: (() => null) as never }, 'test()')
    expect(() => denialResponse(config, {}, denied, undefined)).toThrow(
      /^tollgate: message function must return a string or an object, got null$/,
    )
  })

  it('labels JSON and text bodies with their charset', () => {
    expect(JSON_CONTENT_TYPE).toBe('application/json; charset=utf-8')
    expect(TEXT_CONTENT_TYPE).toBe('text/plain; charset=utf-8')
  })
})

describe('prefersText: quality values', () => {
  it.each([
    // q after another parameter, and other parameters after q
    ['text/plain;charset=utf-8;q=0.1, application/json;q=0.5', false],
    ['text/plain;q=0.1;level=1, application/json;q=0.5', false],
    // parameters that are not q: another name with '=', a name that starts with q
    ['text/plain;a=1;q=0.1, application/json;q=0.5', false],
    ['text/plain;qs=1;q=0.1, application/json;q=0.5', false],
    // a q outside 0-1 counts as 1
    ['text/plain;q=-0.5', true],
    ['text/plain;q=-0.5, application/json;q=0.9', true],
    ['text/plain;q=2, application/json', false],
    ['text/plain;q=1, application/json;q=0.9', true],
  ])('decides %j: text %s', (accept, expected) => {
    expect(prefersText(accept)).toBe(expected)
  })

  it.each([
    ['text/plain;q=0.9, text/plain;q=0.1, application/json;q=0.5', true],
    ['text/html;q=0.9, text/html;q=0.1, application/json;q=0.5', true],
    ['application/json;q=0.1, application/json;q=0.9, text/plain;q=0.5', true],
  ])('keeps the first quality of a repeated media range: %j gives text %s', (accept, expected) => {
    expect(prefersText(accept)).toBe(expected)
  })
})
