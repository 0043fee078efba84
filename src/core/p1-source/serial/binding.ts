/**
 * serialport's `SerialPort` class, loaded on first use so the node still loads (file and TCP
 * sources work) on a machine where the native binding is missing.
 */
import type { PortInfoLike } from './list';
import type { SerialOpenOptions, SerialPortLike } from './serial-source';

export interface SerialPortClass {
  new (options: SerialOpenOptions): SerialPortLike;
  list(): Promise<PortInfoLike[]>;
}

export function loadSerialPort(): SerialPortClass {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('serialport') as { SerialPort: SerialPortClass }).SerialPort;
  } catch (error) {
    throw new Error(`The serialport module could not be loaded (${(error as Error).message}). Reinstall the package for this platform, or use the network or file source.`);
  }
}
