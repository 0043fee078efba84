/**
 * Marks the last item of a stream by holding one item back, so a message sequence can carry
 * `parts.count` on its final message without the whole list ever being in memory.
 */
export async function* withLast<T>(items: AsyncIterable<T> | Iterable<T>): AsyncGenerator<{ item: T; index: number; last: boolean }> {
  let previous: { item: T } | undefined;
  let index = 0;
  for await (const item of items as AsyncIterable<T>) {
    if (previous) {
      yield { item: previous.item, index, last: false };
      index += 1;
    }
    previous = { item };
  }
  if (previous) yield { item: previous.item, index, last: true };
}
