/**
 * The apply stage: each scanned line is read by its OBIS table row (or generically) into
 * `objects`, and the row puts the value into the friendly fields. Then M-Bus devices are picked
 * from their channels and the national variant is guessed from the lines present.
 */
import { OBIS_TABLE, type ChannelRecord, type Fields, type VariantHint } from './obis-table';
import { readValues } from './readers';
import type { ObisLine } from './scan';
import type { DsmrVariant, MbusDevice, MbusKind, ObisEntry } from './types';

export interface Applied {
  objects: Record<string, ObisEntry>;
  fields: Fields;
}

export function applyTable(lines: readonly ObisLine[]): Applied {
  // Keys are OBIS references (letters, digits, - : . *; see scan.ts), so none is special to an object.
  const objects: Record<string, ObisEntry> = {};
  const fields: Fields = { electricity: { phases: { l1: {}, l2: {}, l3: {} } }, idPriority: 0, channels: [], hints: new Set() };
  for (const line of lines) {
    const star = line.reference.indexOf('*');
    const row = OBIS_TABLE.get(star > 0 ? line.reference.slice(0, star) : line.reference);
    const entry = row === undefined ? readValues(line.values) : row.read(line.values);
    if (row === undefined || star > 0) objects[line.reference] = entry;
    else objects[row.reference] = entry;
    if (star > 0) fields.hints.add('starSuffix');
    if (row === undefined) continue;
    if (row.hint !== undefined) fields.hints.add(row.hint);
    row.put?.(fields, entry);
  }
  return { objects, fields };
}

/** EN 13757-3 device types. */
function mbusKind(deviceType: number): MbusKind {
  if (deviceType === 3) return 'gas';
  if (deviceType === 4 || deviceType === 12 || deviceType === 13) return 'heat';
  if (deviceType === 10 || deviceType === 11) return 'cooling';
  if (deviceType === 6 || deviceType === 7 || deviceType === 21 || deviceType === 22) return 'water';
  if (deviceType === 2) return 'electricity';
  return 'other';
}

/**
 * M-Bus devices by device type, not by channel: gas can sit on channel 2 behind a dead channel 1.
 * A channel is dead when it has no reading, no real capture time (placeholders such as
 * 632525252525 or 000101000000), or neither an equipment id nor a unit on a zero reading.
 */
export function mbusDevices(channels: ReadonlyArray<ChannelRecord | undefined>): MbusDevice[] {
  const devices: MbusDevice[] = [];
  for (let channel = 1; channel < channels.length; channel++) {
    const record = channels[channel];
    const reading = record?.reading;
    if (record?.deviceType === undefined || reading?.timestamp === undefined || typeof reading.value !== 'number') continue;
    if (!record.equipmentId && reading.value === 0 && reading.unit === undefined) continue;
    const device: MbusDevice = { channel, deviceType: record.deviceType, kind: mbusKind(record.deviceType) };
    if (record.equipmentId) device.equipmentId = record.equipmentId;
    device.timestamp = reading.timestamp;
    device.value = reading.value;
    if (reading.unit !== undefined) device.unit = reading.unit;
    if (record.valve !== undefined) device.valvePosition = record.valve;
    devices.push(device);
  }
  return devices;
}

/** The national variant, from the lines a telegram carries (each country's spec adds its own). */
export function guessVariant(hints: ReadonlySet<VariantHint>, header: string): DsmrVariant {
  if (hints.has('starSuffix') || header.startsWith('ESY')) return 'DE';
  if (hints.has('beVersion') && !hints.has('p1Version')) return 'BE';
  if (hints.has('deviceName')) return hints.has('p1Version') ? 'LU' : 'HU';
  if (hints.has('fourTariffs')) return 'HU';
  if (hints.has('p1Version')) return hints.has('totals') ? 'LU' : 'NL';
  if (hints.has('meterSerial')) return 'IE';
  if (hints.has('totals') && !hints.has('tariffs')) return 'SE';
  if (hints.has('tariffs')) return 'NL';
  return 'unknown';
}
