/**
 * DSMR P1 parsing: parseTelegram (with the CRC check) against the installed npm parsers on the
 * same telegrams in the same run, then 10^6 telegrams parsed alone and framed + parsed from a
 * stream cut into chunks, with peak memory.
 *
 * Fairness: every parser gets the same telegram strings (the fixture telegrams that all of them
 * accept); each is warmed up first; the measurement is interleaved in rounds, rotating the order,
 * and the median round is reported, so load from other processes hits every parser alike. Peer
 * console output (p1-reader logs every line it does not know) is silenced while they run.
 * Only the markdown section goes to stdout; progress goes to stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTelegram, TelegramFramer } from '../src/core/dsmr';
import { repoRoot } from '../testing/paths';


const root = repoRoot;
const fixtureDir = path.join(root, 'test', 'fixtures', 'dsmr');
const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/* eslint-disable @typescript-eslint/no-require-imports */
const p1ReaderParse = require('p1-reader/lib/parsePacket') as (packet: string) => { electricity: { received: { tariff1: { reading: number | null } } } };
const dsmrParser = require('dsmr-parser') as { parse(telegram: string): { objects: Record<string, unknown> } };
type D0Protocol = { communicationState: number; handleMessage(message: string): unknown };
const D0ProtocolClass = require('smartmeter-obis/lib/protocols/D0Protocol') as new (
  options: Record<string, unknown>,
  callback: (error: unknown, result: Record<string, unknown> | null) => void,
) => D0Protocol;
/* eslint-enable @typescript-eslint/no-require-imports */

function versionOf(name: string): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

// smartmeter-obis has no "parse this string" function; its D0 protocol handler is what its
// transports call with a received telegram, so that is what is measured (no serial I/O).
let obisResult: Record<string, unknown> | null = null;
const d0 = new D0ProtocolClass({ debug: 0, logger: () => undefined }, (error, result) => {
  obisResult = error ? null : result;
});
function smartmeterObisParse(telegram: string): Record<string, unknown> | null {
  d0.communicationState = 4; // "data message expected", as after the meter's identification
  obisResult = null;
  d0.handleMessage(telegram);
  return obisResult;
}

const candidateFiles = [
  'ndokter_v4.2-kaifa-power-failure-log.txt',
  'ndokter_v5-iskra-mt382.txt',
  'ndokter_v5-iskra-am550-two-mbus.txt',
  'ndokter_be-emucs-1.7.1-fluvius-peak-gas-water.txt',
  'ndokter_be-emucs-1.7.1-fluvius-alt.txt',
  'ndokter_hu-eon-sagemcom.txt',
  'athombv_dsmr-4.0-isk-2.txt',
  'athombv_dsmr-4.2-kfm-1.txt',
  'athombv_dsmr-5.0-isk-1.txt',
  'ndokter_lu-sagemcom-t210dr-plain.txt',
  'ndokter_ie-iskra-mie5t.txt',
];

const silence = { log: console.log, error: console.error, warn: console.warn, info: console.info };
function quiet<T>(run: () => T): T {
  console.log = console.error = console.warn = console.info = () => undefined;
  try {
    return run();
  } finally {
    Object.assign(console, silence);
  }
}

/** Telegrams every parser accepts (dsmr-parser only reads DSMR 4+ with a CRC line), checked against ours. */
function commonTelegrams(): { texts: string[]; files: string[] } {
  const texts: string[] = [];
  const files: string[] = [];
  for (const file of candidateFiles) {
    const text = fs.readFileSync(path.join(fixtureDir, file)).toString('latin1');
    try {
      const ours = parseTelegram(text);
      const theirs = quiet(() => dsmrParser.parse(text));
      const p1 = quiet(() => p1ReaderParse(text));
      const obis = quiet(() => smartmeterObisParse(text));
      if (!obis || Object.keys(obis).length === 0) continue;
      if (theirs.objects['electricity delivered tariff 1'] !== ours.electricity.deliveredTariff1) continue;
      if (p1.electricity === undefined) continue;
      texts.push(text);
      files.push(file);
    } catch {
      // not accepted by every parser: left out so that all measure the same work
    }
  }
  return { texts, files };
}

interface Contender {
  name: string;
  crc: string;
  run: (input: string | Buffer) => unknown;
  inputs: Array<string | Buffer>;
  quiet: boolean;
  rates: number[];
}

/** CPU seconds (user + system) this process has used since `since`. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/**
 * Telegrams per CPU second over a round of about `milliseconds` of wall time. CPU time rather
 * than wall time: on a shared machine other processes take the core away at random moments,
 * which wall time would charge to whichever parser happened to run.
 */
function measure(contender: Contender, milliseconds: number): number {
  const { run, inputs } = contender;
  let sink = 0;
  let count = 0;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const budget = BigInt(milliseconds) * 1_000_000n;
  let elapsed = 0n;
  do {
    for (let i = 0; i < inputs.length; i++) {
      if (run(inputs[i]) !== undefined) sink++;
    }
    count += inputs.length;
    elapsed = process.hrtime.bigint() - started;
  } while (elapsed < budget);
  if (sink !== count) throw new Error(`${contender.name} returned nothing for some telegram`);
  return count / cpuSeconds(cpu);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function mib(bytes: number): string {
  return `${fmt(bytes / 1024 / 1024, 1)} MiB`;
}

function comparePeers(texts: string[]): { rows: string[]; summary: string } {
  const buffers = texts.map((text) => Buffer.from(text, 'latin1'));
  const contenders: Contender[] = [
    { name: '**parseTelegram** (string input)', crc: 'yes', run: (t) => parseTelegram(t), inputs: texts, quiet: false, rates: [] },
    { name: '**parseTelegram** (Buffer input, as from the framer)', crc: 'yes', run: (t) => parseTelegram(t), inputs: buffers, quiet: false, rates: [] },
    { name: `p1-reader ${versionOf('p1-reader')} (parsePacket)`, crc: 'no', run: (t) => p1ReaderParse(t as string), inputs: texts, quiet: true, rates: [] },
    { name: `dsmr-parser ${versionOf('dsmr-parser')} (parse)`, crc: 'yes', run: (t) => dsmrParser.parse(t as string), inputs: texts, quiet: true, rates: [] },
    { name: `smartmeter-obis ${versionOf('smartmeter-obis')} (D0Protocol)`, crc: 'no', run: (t) => smartmeterObisParse(t as string), inputs: texts, quiet: true, rates: [] },
  ];
  const runOne = (contender: Contender, milliseconds: number): number => (contender.quiet ? quiet(() => measure(contender, milliseconds)) : measure(contender, milliseconds));
  for (const contender of contenders) {
    progress(`warm-up ${contender.name}`);
    runOne(contender, 1000);
  }
  const rounds = 9;
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const contender = contenders[(k + round) % contenders.length];
      contender.rates.push(runOne(contender, 300));
    }
    progress(`round ${round + 1}/${rounds}: ${contenders.map((c) => fmt(c.rates[c.rates.length - 1])).join(' / ')}`);
  }
  const ours = median(contenders[0].rates);
  const peers = contenders.slice(2);
  const fastest = peers.reduce((best, peer) => (median(peer.rates) > median(best.rates) ? peer : best));
  const rows = contenders.map((c) => {
    const rate = median(c.rates);
    const ratio = c === contenders[0] ? '1.00×' : contenders.indexOf(c) < 2 ? '—' : `${fmt(ours / rate, 2)}×`;
    return `| ${c.name} | ${fmt(rate)} | ${fmt(Math.min(...c.rates))} – ${fmt(Math.max(...c.rates))} | ${ratio} | ${c.crc} |`;
  });
  const ratio = ours / median(fastest.rates);
  const summary = `parseTelegram is **${fmt(ratio, 2)}×** the throughput of the fastest peer (${fastest.name.split(' (')[0]}); target ≥ 2×: ${ratio >= 2 ? '**met**' : '**not met**'}.`;
  return { rows, summary };
}

const MILLION = 1_000_000;

/** Peak RSS and heap, sampled every 5,000 telegrams, from a baseline taken after a full GC. */
class MemoryPeak {
  readonly baseline: NodeJS.MemoryUsage;
  rss: number;
  heap: number;

  constructor() {
    (globalThis as { gc?: () => void }).gc?.();
    this.baseline = process.memoryUsage();
    this.rss = this.baseline.rss;
    this.heap = this.baseline.heapUsed;
  }

  sample(telegrams: number): void {
    if (telegrams % 5000 !== 0) return;
    const usage = process.memoryUsage();
    if (usage.rss > this.rss) this.rss = usage.rss;
    if (usage.heapUsed > this.heap) this.heap = usage.heapUsed;
    if (telegrams % 200_000 === 0) progress(`  ${fmt(telegrams)} telegrams`);
  }
}

interface MillionRun {
  what: string;
  telegrams: number;
  bytes: number;
  chunks: number | undefined;
  seconds: number;
  cpuSeconds: number;
  errors: number;
  memory: MemoryPeak;
  held: string;
}

function millionRow(run: MillionRun): string {
  const { memory } = run;
  return (
    `| ${run.what} | ${fmt(run.telegrams)} | ${fmt(run.bytes)} | ${run.chunks === undefined ? '—' : fmt(run.chunks)} | ${fmt(run.seconds, 1)} s | ${fmt(run.cpuSeconds, 1)} s | ${fmt(run.telegrams / run.cpuSeconds)} | ` +
    `${fmt(run.bytes / run.cpuSeconds / 1e6, 1)} | ${run.errors} | ${mib(memory.rss)} (${mib(memory.baseline.rss)}) | ${mib(memory.heap)} (${mib(memory.baseline.heapUsed)}) | ${run.held} |`
  );
}

/** parseTelegram alone over the telegrams as Buffers, round after round. */
function parseMillion(texts: string[]): MillionRun {
  const buffers = texts.map((t) => Buffer.from(t, 'latin1'));
  const memory = new MemoryPeak();
  let telegrams = 0;
  let errors = 0;
  let bytes = 0;
  progress(`parsing ${fmt(MILLION)} telegrams`);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let n = 0; n < MILLION; n++) {
    const raw = buffers[n % buffers.length];
    bytes += raw.length;
    try {
      if (parseTelegram(raw).crc.valid !== false) telegrams++;
    } catch {
      errors++;
    }
    memory.sample(n + 1);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { what: 'parseTelegram alone (Buffer input)', telegrams, bytes, chunks: undefined, seconds, cpuSeconds: cpuSeconds(cpu), errors, memory, held: '—' };
}

/** TelegramFramer + parseTelegram over a stream cut at pseudo-random chunk sizes. */
function streamMillion(texts: string[]): MillionRun {
  const template = Buffer.from(texts.map((t) => (t.endsWith('\r\n') ? t : `${t}\r\n`)).join(''), 'latin1');
  const framer = new TelegramFramer();
  const memory = new MemoryPeak();
  let peakBuffered = 0;
  let telegrams = 0;
  let errors = 0;
  let bytes = 0;
  let chunks = 0;
  let delivered = 0;
  let seed = 12345;
  progress(`streaming ${fmt(MILLION)} telegrams (${fmt(template.length)}-byte pattern of ${texts.length} telegrams, random chunk sizes)`);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  while (delivered < MILLION) {
    for (let offset = 0; offset < template.length && delivered < MILLION; ) {
      // Chunk sizes like serial/TCP reads: 64 B to 8 KiB, from a fixed pseudo-random sequence.
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const chunk = template.subarray(offset, Math.min(template.length, offset + 64 + (seed % 8128)));
      offset += chunk.length;
      bytes += chunk.length;
      chunks++;
      for (const event of framer.push(chunk)) {
        if (delivered === MILLION) break;
        if (event.type === 'error') {
          errors++;
          continue;
        }
        try {
          if (parseTelegram(event.raw).crc.valid !== false) telegrams++;
        } catch {
          errors++;
        }
        memory.sample(++delivered);
      }
      if (framer.bufferedBytes > peakBuffered) peakBuffered = framer.bufferedBytes;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { what: 'TelegramFramer + parseTelegram (stream)', telegrams, bytes, chunks, seconds, cpuSeconds: cpuSeconds(cpu), errors, memory, held: `${fmt(peakBuffered)} B (limit ${fmt(framer.maxTelegramBytes)})` };
}

function main(): void {
  const { texts, files } = commonTelegrams();
  if (texts.length < 5) throw new Error(`only ${texts.length} telegrams are accepted by every parser`);
  progress(`${texts.length} telegrams accepted by every parser: ${files.join(', ')}`);
  // The 10^6 runs come first, so that their memory baselines are those of a fresh process.
  const million = [parseMillion(texts), streamMillion(texts)];
  const { rows, summary } = comparePeers(texts);
  const averageBytes = texts.reduce((sum, t) => sum + t.length, 0) / texts.length;
  const lines = [
    '## DSMR P1 telegram parsing (dsmr core)',
    '',
    `Node ${process.version} on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores). ` +
      `${texts.length} real telegrams (DSMR 4.0–5.0 NL, Belgian e-MUCS, Hungarian E.ON; average ${fmt(averageBytes)} bytes) that every parser accepts, ` +
      'all parsed in the same process; 1 s warm-up each, then 9 interleaved rounds of 300 ms with rotating order; the median round is reported. ' +
      'Rates are telegrams per second of CPU time used by the process (`process.cpuUsage`), so that other processes on a shared machine do not distort the ratios.',
    '',
    '| parser | telegrams per CPU second (median) | range over rounds | parseTelegram ÷ this | verifies CRC |',
    '|---|---:|---:|---:|:---:|',
    ...rows,
    '',
    summary,
    'parseTelegram also returns every OBIS line in `objects`, M-Bus devices, timestamps with offsets and the capacity-tariff fields; the peers return fewer fields. ' +
      'It keeps nothing between calls: every telegram is parsed from scratch.',
    '',
    '### 10⁶ telegrams: parsing alone, and framing + parsing',
    '',
    'parseTelegram over the same telegrams as Buffers, one million times; then TelegramFramer + parseTelegram (Buffer input, CRC checked) over one million telegrams ' +
      'streamed as views of a small repeating pattern, cut at pseudo-random chunk sizes between 64 B and 8 KiB. Memory sampled every 5,000 telegrams, from a baseline taken after a full GC.',
    '',
    '| run | telegrams | bytes | chunks | wall time | CPU time | telegrams per CPU second | MB per CPU second | errors | peak RSS (start) | peak heapUsed (start) | most bytes held by the framer |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...million.map(millionRow),
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main();
