/**
 * The config node's settings, checked without Node-RED: every bad value is a ConfigError that
 * names the field as the editor labels it and says what to enter.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/core/runtime/options';
import { SERVICE_DEFAULTS, SERVICE_LIMITS, readServiceSettings, type ServiceConfigInput } from '../../../src/core/services';

const TOKEN = { token: 'tok-0123456789' };

function refuses(input: ServiceConfigInput, field: string, says: RegExp, credentials: Record<string, string> = TOKEN): void {
  assert.throws(
    () => readServiceSettings(input, credentials),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `a ConfigError, got ${String(error)}`);
      assert.equal(error.code, 'CONFIG');
      assert.equal(error.field, field);
      assert.ok(error.message.startsWith(field) || error.message.includes(field), error.message);
      assert.match(error.message, says);
      return true;
    },
  );
}

describe('readServiceSettings', () => {
  it('fills empty fields with the service defaults', () => {
    const settings = readServiceSettings({ service: 'metry', baseUrl: '', timeout: '', maxConcurrent: '', requestsPerSecond: '' }, TOKEN);
    assert.deepEqual(settings, { service: 'metry', baseUrl: SERVICE_DEFAULTS.metry.baseUrl, timeoutMs: 60_000, maxConcurrent: 4, requestsPerSecond: 10, authMode: 'token' });
  });

  it('takes values as the editor stores them (strings) or as numbers, and trims the base URL', () => {
    const settings = readServiceSettings({ service: 'dsmr-reader', baseUrl: ' http://192.168.1.10:7777/ ', timeout: '2.5', maxConcurrent: 2, requestsPerSecond: '0' }, { authKey: 'key-0123' });
    assert.deepEqual(settings, { service: 'dsmr-reader', baseUrl: 'http://192.168.1.10:7777', timeoutMs: 2500, maxConcurrent: 2, requestsPerSecond: 0, authMode: 'token' });
  });

  it('accepts the bounds themselves', () => {
    const low = readServiceSettings({ service: 'metry', timeout: SERVICE_LIMITS.timeoutSeconds.min, maxConcurrent: SERVICE_LIMITS.maxConcurrent.min, requestsPerSecond: SERVICE_LIMITS.requestsPerSecond.min }, TOKEN);
    const high = readServiceSettings({ service: 'metry', timeout: '3600', maxConcurrent: '32', requestsPerSecond: '100' }, TOKEN);
    assert.deepEqual([low.timeoutMs, low.maxConcurrent, low.requestsPerSecond], [1000, 1, 0]);
    assert.deepEqual([high.timeoutMs, high.maxConcurrent, high.requestsPerSecond], [3_600_000, 32, 100]);
  });

  describe('base URL', () => {
    it('refuses another scheme', () => refuses({ service: 'metry', baseUrl: 'ftp://example.com/api/v2' }, 'Base URL', /uses "ftp:": only http:\/\/ and https:\/\/ are supported; enter it as https:\/\/app\.metry\.io\/api\/v2/));
    it('refuses a query', () => refuses({ service: 'metry', baseUrl: 'https://example.com/api/v2?tenant=1' }, 'Base URL', /contains a query \("\?tenant=1"\): remove everything from "\?" on/));
    it('refuses an empty query too', () => refuses({ service: 'metry', baseUrl: 'https://example.com/api/v2?' }, 'Base URL', /contains a query/));
    it('refuses a fragment', () => refuses({ service: 'metry', baseUrl: 'https://example.com/api/v2#x' }, 'Base URL', /contains a fragment \("#x"\): remove everything from "#" on/));
    it('refuses a user name and password, without repeating them', () => {
      refuses({ service: 'metry', baseUrl: 'https://user:hunter22@example.com/api/v2' }, 'Base URL', /^Base URL contains a user name or password: remove them from the URL and enter credentials in the credential fields\.$/);
    });
    it('refuses text that is no URL', () => refuses({ service: 'metry', baseUrl: 'app.metry.io/api/v2' }, 'Base URL', /"app\.metry\.io\/api\/v2" is not a URL/));
    it('needs one for DSMR-reader, with an example of a local server', () => refuses({ service: 'dsmr-reader', baseUrl: '' }, 'Base URL', /is empty: enter the server address, e.g\. http:\/\/192\.168\.1\.10:7777/, { authKey: 'key-0123' }));
  });

  describe('numbers', () => {
    for (const [timeout, shown] of [['0', '0'], ['3601', '3601'], ['2147484', '2147484'], ['-5', '-5'], ['soon', 'soon'], [Infinity, 'Infinity']] as const) {
      it(`refuses a timeout of ${shown}`, () => refuses({ service: 'metry', timeout }, 'Timeout', new RegExp(`^Timeout is "${shown}": enter a number from 1 to 3600 seconds \\(default 60\\)\\.$`)));
    }
    for (const rate of ['101', '-1', 'fast', '1e9']) {
      it(`refuses ${rate} requests per second`, () => refuses({ service: 'metry', requestsPerSecond: rate }, 'Requests / s', /enter a number from 0 to 100 requests per second \(default 10\)/));
    }
    for (const parallel of ['0', '33', '2.5', 'many']) {
      it(`refuses ${parallel} parallel requests`, () => refuses({ service: 'utilityapi', maxConcurrent: parallel }, 'Parallel requests', /enter a whole number from 1 to 32 \(default 2\)/));
    }
  });

  describe('service and credentials', () => {
    it('refuses an unknown service', () => refuses({ service: 'enphase' }, 'Service', /choose one of metry, utilityapi, intellimeter, dsmr-reader/));
    it('refuses a missing service', () => refuses({}, 'Service', /Service is empty/));
    it('names the missing token', () => refuses({ service: 'utilityapi' }, 'API token', /The UtilityAPI config node has no API token/, {}));
    it('names the missing DSMR-reader key', () => refuses({ service: 'dsmr-reader', baseUrl: 'http://dsmr.local' }, 'API key', /has no API key \(X-AUTHKEY\)/, {}));
    it('names what a Metry OAuth2 config node lacks: client id, secret, or an authorization', () => {
      refuses({ service: 'metry', authMode: 'oauth2' }, 'Client id', /has no Client id \(OAuth2\)/, {});
      refuses({ service: 'metry', authMode: 'oauth2' }, 'Client secret', /has no Client secret \(OAuth2\)/, { clientId: 'app' });
      refuses({ service: 'metry', authMode: 'oauth2' }, 'Authorize', /not authorized for a customer account yet.*click Authorize/, { clientId: 'app', clientSecret: 's3cret' });
      refuses({ service: 'metry', authMode: 'password' }, 'Authentication', /choose one of token, oauth2/);
    });
    it('asks Intellimeter for a key or both user name and password', () => {
      refuses({ service: 'intellimeter' }, 'API key', /has no API key \(or user name and password\)/, { username: 'me' });
      assert.equal(readServiceSettings({ service: 'intellimeter' }, { username: 'me', password: 'pw-1234' }).service, 'intellimeter');
    });
  });
});
