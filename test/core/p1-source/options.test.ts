import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readP1InOptions, type P1InConfig, type P1InKeys } from '../../../src/core/p1-source/options';
import { isConfigError } from '../../../src/core/runtime/options';

const noEnv = (): undefined => undefined;
const SERIAL: P1InConfig = { source: 'serial', serialPath: '/dev/ttyUSB0', preset: 'dsmr4-5', crc: 'strict', topic: 'p1', version: 2 };
const KEY = '0123456789ABCDEF0123456789ABCDEF';

function configError(config: P1InConfig, field: string, text: RegExp, keys: P1InKeys = {}): void {
  assert.throws(
    () => readP1InOptions(config, keys, noEnv),
    (error: unknown) => isConfigError(error) && error.code === 'CONFIG' && error.field === field && text.test(error.message),
    `${field}: ${text}`,
  );
}

describe('dsmr-p1-in settings', () => {
  it('reads a serial configuration with its defaults', () => {
    const options = readP1InOptions({ ...SERIAL, maxTelegramSize: '', rateLimit: '', silenceTimeout: '' }, {}, noEnv);
    assert.deepEqual(options.source, { kind: 'serial', path: '/dev/ttyUSB0', mode: { kind: 'fixed', settings: { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 } } });
    assert.equal(options.maxTelegramBytes, 16384);
    assert.equal(options.rateLimitMs, 0);
    assert.equal(options.silenceMs, undefined, 'empty: learned from the meter');
    assert.deepEqual(options.parse, { crc: 'strict', decryptionKey: undefined, authenticationKey: undefined });
    assert.equal(options.topic, 'p1');
  });

  it('reads TCP and file sources, expanding ${VAR} in the file path', () => {
    assert.deepEqual(readP1InOptions({ source: 'tcp', host: ' dongle.local ', port: '23' }, {}, noEnv).source, { kind: 'tcp', host: 'dongle.local', port: 23 });
    const file = readP1InOptions({ source: 'file', filePath: '${DIR}/p1.txt', interval: '2.5' }, {}, (name) => (name === 'DIR' ? '/srv' : undefined));
    assert.deepEqual(file.source, { kind: 'file', path: '/srv/p1.txt', intervalMs: 2500 });
  });

  it('a silence timeout that was set wins; 0 turns it off; the old editor default of 60 s counts as learned', () => {
    assert.equal(readP1InOptions({ ...SERIAL, silenceTimeout: '20' }, {}, noEnv).silenceMs, 20_000);
    assert.equal(readP1InOptions({ ...SERIAL, silenceTimeout: '0' }, {}, noEnv).silenceMs, 0);
    assert.equal(readP1InOptions({ ...SERIAL, silenceTimeout: '60' }, {}, noEnv).silenceMs, 60_000, 'version 2: 60 was chosen');
    assert.equal(readP1InOptions({ ...SERIAL, silenceTimeout: '60', version: 1 }, {}, noEnv).silenceMs, undefined, 'version 1: 60 was the default');
    assert.equal(readP1InOptions({ ...SERIAL, silenceTimeout: '60', version: undefined }, {}, noEnv).silenceMs, undefined);
  });

  it('rejects every wrong field at deploy with a CONFIG error naming it', () => {
    configError({ ...SERIAL, source: 'carrier-pigeon' }, 'Source', /choose one of serial, tcp, file/);
    configError({ ...SERIAL, serialPath: ' ' }, 'Serial port', /choose the serial port of the P1 cable/);
    configError({ source: 'tcp', host: '', port: '23' }, 'Host', /host name or IP address/);
    configError({ source: 'tcp', host: 'x', port: '70000' }, 'Port', /whole number from 1 to 65535/);
    configError({ source: 'file', filePath: '' }, 'File', /path of a file/);
    configError({ source: 'file', filePath: '${NOPE}/p1.txt' }, 'File', /Environment variable NOPE .* is not set/);
    configError({ source: 'file', filePath: '/x', interval: '0' }, 'Every (replay interval)', /from 0.01 to 3600 seconds/);
    configError({ ...SERIAL, maxTelegramSize: '100' }, 'Max. telegram', /from 256 to 65536 bytes/);
    configError({ ...SERIAL, maxTelegramSize: '70000' }, 'Max. telegram', /from 256 to 65536 bytes/);
    configError({ ...SERIAL, maxTelegramSize: '1000.5' }, 'Max. telegram', /whole number/);
    configError({ ...SERIAL, rateLimit: '-1' }, 'At most 1 per', /from 0 to 86400 seconds/);
    configError({ ...SERIAL, silenceTimeout: 'soon' }, 'Silent after', /from 0 to 3600 \(0 = never\), or leave it empty to learn it from the meter/);
    configError({ ...SERIAL, silenceTimeout: '7200' }, 'Silent after', /from 0 to 3600/);
    configError({ ...SERIAL, crc: 'lenient' }, 'CRC check', /strict, off/);
    configError({ ...SERIAL, preset: 'custom', baudRate: '1234' }, 'Baud rate', /choose one of/);
  });

  it('checks Luxembourg keys: 32 hex characters, and names an unset environment variable', () => {
    const options = readP1InOptions(SERIAL, { decryptionKey: KEY, authenticationKey: '00112233 44556677 8899AABB CCDDEEFF' }, noEnv);
    assert.equal(options.parse.decryptionKey, KEY);
    configError(SERIAL, 'Decryption key', /not 32 hexadecimal characters/, { decryptionKey: '1234' });
    configError(SERIAL, 'Auth. key', /not 32 hexadecimal characters/, { decryptionKey: KEY, authenticationKey: 'zz' });
    configError(SERIAL, 'Decryption key', /environment variable P1_KEY, which is not set/, { decryptionKey: '${P1_KEY}' });
  });
});
