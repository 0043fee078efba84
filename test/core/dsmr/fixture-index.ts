/**
 * The shared DSMR fixtures (copied from ../shared/fixtures/dsmr with their README) and their
 * index. Files are read as bytes: several headers hold latin-1 bytes that a UTF-8 read would
 * change, and the CRCs are over the bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../../testing/paths';


export const fixtureDir = path.join(repoRoot, 'test', 'fixtures', 'dsmr');

export interface FixtureEncryption {
  key: string;
  authentication_key: string | null;
  gcm_aad: string;
  tag_verifies: boolean;
}

export interface Fixture {
  file: string;
  kind: 'telegram' | 'stream' | 'encrypted-frame' | 'dlms-binary' | 'mbus-binary';
  country?: string;
  dsmr_version?: string;
  has_crc?: boolean | null;
  crc_in_telegram?: string | null;
  crc_computed?: string | null;
  crc_ok?: boolean | null;
  expected?: string | null;
  encryption?: FixtureEncryption;
  expected_complete_telegrams?: number;
  mbus_channels?: Array<{ channel: number; device_type: string }>;
}

export const fixtures: Fixture[] = (
  JSON.parse(fs.readFileSync(path.join(fixtureDir, 'index.json'), 'utf8')) as { fixtures: Fixture[] }
).fixtures;

export function readFixture(file: string): Buffer {
  return fs.readFileSync(path.join(fixtureDir, file));
}

export function fixture(file: string): Fixture {
  const found = fixtures.find((f) => f.file === file);
  if (!found) throw new Error(`no fixture ${file} in index.json`);
  return found;
}

/** What index.json's `expected` text asks of a strict parser. */
export type Expectation = 'accept' | 'reject-crc' | 'crc-bad-in-source' | 'reject-missing-crc' | 'incomplete' | 'lf-only' | 'decrypt-accept' | 'decrypt-crc-bad' | 'none';

/**
 * Where this package is stricter than the index (which records what the source projects did): a
 * telegram carrying the version line 1-3:0.2.8 is DSMR 4 or later and must carry a CRC, so this
 * synthetic DSMR 4 telegram whose '!' has no CRC is refused in strict mode (a CRC line removed
 * in transit must not switch the check off).
 */
const STRICTER_THAN_INDEX: Record<string, Expectation> = {
  'esphome_v4-kaifa-edge-fields-no-crc.txt': 'reject-missing-crc',
};

export function expectationOf(f: Fixture): Expectation {
  if (STRICTER_THAN_INDEX[f.file]) return STRICTER_THAN_INDEX[f.file];
  const text = f.expected ?? '';
  if (f.kind === 'encrypted-frame') return text.includes('then accept') ? 'decrypt-accept' : 'decrypt-crc-bad';
  if (text.startsWith('accept')) return 'accept';
  if (text.startsWith('reject: CRC mismatch')) return 'reject-crc';
  if (text.startsWith('CRC mismatch in the source data too')) return 'crc-bad-in-source';
  if (text.startsWith('reject or flag') || text.startsWith('no "!" footer')) return 'incomplete';
  if (text.startsWith('CRC verifies only after LF->CRLF')) return 'lf-only';
  if (text === '') return 'none';
  throw new Error(`unknown expectation for ${f.file}: ${text}`);
}
