/**
 * A child process for the queue's disk-full test: run it under a file size limit (`ulimit -f`)
 * and it pushes items into a PersistentQueue until a push is refused, then tries a few more.
 * It prints `ack <n>` for every push that resolved and `refused <json>` for every push that
 * rejected, so the parent can check that everything acknowledged is on disk afterwards.
 *
 * Usage: node queue-filler.js <queue file> <item text length> <pushes to try after the first refusal>
 */
import { PersistentQueue, QueueError } from '../src/core/dsmr-reader/queue';

async function fill(file: string, textLength: number, extraAttempts: number): Promise<void> {
  const queue = await PersistentQueue.open<{ n: number; text: string }>({ file, maxItems: 1_000_000, maxBytes: 1e9 });
  let refusals = 0;
  for (let n = 1; refusals <= extraAttempts; n += 1) {
    try {
      await queue.push({ n, text: 't'.repeat(textLength) });
      process.stdout.write(`ack ${n}\n`);
    } catch (error) {
      const { code, message } = error as QueueError;
      process.stdout.write(`refused ${JSON.stringify({ n, code, message })}\n`);
      refusals += 1;
    }
  }
  await queue.close();
}

const [file, textLength, extraAttempts] = process.argv.slice(2);
fill(file, Number(textLength), Number(extraAttempts)).catch((error: unknown) => {
  process.stderr.write(`queue-filler failed: ${String(error)}\n`);
  process.exitCode = 1;
});
