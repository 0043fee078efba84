import { ServiceError } from './errors';

/** One page as a service returned it, reduced to its items and how to ask for the next one. */
export interface Page<TItem, TCursor> {
  items: readonly TItem[];
  /** The cursor for the next page; `undefined` when this was the last page. */
  next?: TCursor;
}

/**
 * Walks every page of a list, one request at a time, yielding items as they arrive so a caller
 * can stop early or stream millions of items without holding them all. `maxPages` guards
 * against a service whose cursor never ends.
 */
export async function* paginate<TItem, TCursor>(
  fetchPage: (cursor: TCursor | undefined) => Promise<Page<TItem, TCursor>>,
  options: { maxPages?: number } = {},
): AsyncGenerator<TItem, void, undefined> {
  const maxPages = options.maxPages ?? 100_000;
  let cursor: TCursor | undefined;
  for (let page = 0; page < maxPages; page += 1) {
    const result = await fetchPage(cursor);
    yield* result.items;
    if (result.next === undefined || result.items.length === 0) return;
    cursor = result.next;
  }
  throw new Error(`Stopped after ${maxPages} pages: the service kept returning a next page.`);
}

/** Collects an async iterable into an array, for callers that need every item at once. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The cursor rule of skip/count lists (Metry): the next skip, or undefined when `count` is reached. */
export function nextSkip(skip: number, received: number, count: number | undefined): number | undefined {
  const reached = skip + received;
  if (received === 0) return undefined;
  if (count !== undefined && reached >= count) return undefined;
  return reached;
}

/**
 * A link from a response (a `next` page) as an absolute URL, resolved against the URL of the
 * response that carried it as RFC 3986 §5 says: `?page=2` keeps the path, `/api/v2/x` keeps the
 * origin, `../v2/x` climbs from the response's path. Pass the result as `path` to the client,
 * which sends credentials only to the base URL's origin.
 */
export function resolveLink(link: string, response: { url: string }): string {
  try {
    const url = new URL(link.trim(), response.url);
    url.hash = '';
    return url.toString();
  } catch {
    throw new ServiceError('The service sent a next-page link that is not a URL; the listing stopped there. Report this to the service.', { code: 'INVALID_RESPONSE' });
  }
}
