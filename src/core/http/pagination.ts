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
