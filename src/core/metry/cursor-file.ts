/**
 * Kept cursors in a JSON file, for flows without a database whose Node-RED context lives in
 * memory (the default): a restart would otherwise forget every cursor and export everything
 * again. Values are kept in memory while a run goes on; `flush` (after each chunk of meters)
 * writes them out atomically — write a temporary file, fsync, rename — so a crash leaves the
 * previous file or the new one, never half of one. A crash between flushes only costs a refetch
 * of what the lost moves covered; nothing is skipped.
 */
import fsp from 'node:fs/promises';
import { writeFileAtomically } from '../durable-files';
import { CursorStore, parseCursor } from './cursor';

export interface FileCursorStoreOptions {
  file: string;
  /** Told when an unreadable file was set aside (the export starts again from Metry's first values). */
  onDamagedFile?: (file: string, movedTo: string) => void;
}

export class FileCursorStore implements CursorStore {
  readonly file: string;
  private values?: Map<string, string>;
  private readonly changed = new Set<string>();
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: FileCursorStoreOptions) {
    this.file = options.file;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.load()).get(key);
  }

  async set(key: string, value: string): Promise<void> {
    (await this.load()).set(key, value);
    this.changed.add(key);
  }

  /** Writes the changed values, merged into what the file holds now (another node of the flow may share it). */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.write());
    return this.writing;
  }

  private async load(): Promise<Map<string, string>> {
    this.values ??= await this.read();
    return this.values;
  }

  private async read(): Promise<Map<string, string>> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw error;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      return new Map(Object.entries(parsed as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    } catch {
      // A damaged file must not become cursors: keep it for inspection and start without.
      const movedTo = `${this.file}.damaged-${Date.now()}`;
      await fsp.rename(this.file, movedTo);
      this.options.onDamagedFile?.(this.file, movedTo);
      return new Map();
    }
  }

  private async write(): Promise<void> {
    if (this.changed.size === 0 || !this.values) return;
    const keys = [...this.changed];
    this.changed.clear();
    try {
      const onDisk = await this.read();
      for (const key of keys) {
        const mine = this.values.get(key)!;
        const theirs = onDisk.get(key);
        // Cursors only move forward, whichever node moved them.
        if (theirs === undefined || (parseCursor(mine) ?? 0) >= (parseCursor(theirs) ?? 0)) onDisk.set(key, mine);
        else this.values.set(key, theirs);
      }
      await writeFileAtomically(this.file, `${JSON.stringify(Object.fromEntries(onDisk), null, 1)}\n`);
    } catch (error) {
      for (const key of keys) this.changed.add(key);
      throw error;
    }
  }
}

