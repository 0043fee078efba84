/**
 * UtilityAPI's lists (meters, intervals) hand out more than 1,000 results page by page: each page
 * carries a `next` link, null on the last. The documentation does not say whether the link is
 * absolute (service-contracts §2.6 item 7), so it is resolved against the URL of the response that
 * carried it (RFC 3986 §5, `resolveLink` of the HTTP core), as a browser would: `https://…/intervals?after=9`, `/api/v2/intervals?…`,
 * `intervals?…` and `?after=9` all lead to the same page. Appending it to the base URL instead
 * turned `/api/v2/intervals?…` into `/api/v2/api/v2/intervals?…`, a 404.
 */
import type { HttpRequester, HttpResponse, QueryValue, RetryEvent } from '../http/client';
import { ServiceError } from '../http/errors';
import { resolveLink } from '../http/pagination';

export interface ListPage<T> {
  items: T[];
  /** 1 for the first page. */
  index: number;
  /** No `next` link: nothing follows. */
  last: boolean;
}

export interface ListRequest {
  path: string;
  query?: Record<string, QueryValue>;
  /** A few words for error texts, e.g. "fetching interval data". */
  what: string;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
  /** Guard against a `next` link that never ends. */
  maxPages?: number;
}

/**
 * Every page of one list, one request at a time, so a caller can hand each page on before the
 * next is asked for. `read` takes a page's items and `next` link out of the body (and throws for
 * a body that is no such list).
 */
export async function* listPages<T>(client: HttpRequester, request: ListRequest, read: (body: unknown) => { items: T[]; next?: unknown }): AsyncGenerator<ListPage<T>, void, undefined> {
  const maxPages = request.maxPages ?? 100_000;
  let path = request.path;
  let query: Record<string, QueryValue> | undefined = request.query;
  for (let index = 1; ; index += 1) {
    let response: HttpResponse<unknown> | undefined = await client.request<unknown>({ path, query, responseType: 'json', what: request.what, signal: request.signal, onRetry: request.onRetry });
    const { items, next } = read(response.data);
    const nextUrl = typeof next === 'string' && next.trim() !== '' ? resolveLink(next, response) : undefined;
    // Only the items are handed on: the caller may release them while the page is still being handled.
    response = undefined;
    yield { items, index, last: nextUrl === undefined };
    if (nextUrl === undefined) return;
    if (index >= maxPages) {
      throw new ServiceError(`UtilityAPI kept returning a next page (stopped after ${maxPages} pages while ${request.what}). Narrow the request, e.g. a shorter interval window.`, { code: 'INVALID_RESPONSE', service: 'utilityapi' });
    }
    // The link is followed as it is: it already holds every filter of the first request.
    path = nextUrl;
    query = undefined;
  }
}
