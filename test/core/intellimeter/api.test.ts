import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeIntellimeter, FAKE_API_KEY } from '../../../testing/fakes/intellimeter';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { isServiceError } from '../../../src/core/http/errors';
import { validateReading } from '../../../src/core/readings';
import { createIntellimeterSessionAuth } from '../../../src/core/intellimeter/session';
import { IntellimeterApi, ResponseType, toHistoryDate } from '../../../src/core/intellimeter/api';

const ZONE = 'America/Toronto';
const options = (fake: FakeIntellimeter, responseType: ResponseType) => ({ zone: ZONE, unit: 'kWh', now: fake.now, responseType });

describe('Intellimeter operations against the local fake', () => {
  let fake: FakeIntellimeter;
  let client: ServiceHttpClient;
  let api: IntellimeterApi;

  before(async () => {
    fake = await new FakeIntellimeter().start();
    client = new ServiceHttpClient({ service: 'intellimeter', baseURL: fake.url, auth: createIntellimeterSessionAuth({ apiKey: FAKE_API_KEY }), maxConcurrent: 1, requestsPerSecond: 0, timeoutMs: 3000, retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 2 } });
    api = new IntellimeterApi(client.lease());
  });
  after(async () => {
    await client.close();
    await fake.stop();
  });
  beforeEach(() => {
    fake.reset({ sessions: false });
    // 2019-10-30 13:15 in Toronto (EDT, UTC-4), the documented example.
    fake.time = Date.UTC(2019, 9, 30, 17, 15);
  });

  it('turns /data into register readings with the zone offset, as the documentation shows them', async () => {
    const { readings, problems } = await api.latestReadings(options(fake, 'json'));
    assert.deepEqual(problems, []);
    assert.deepEqual(readings[0], { source: 'intellimeter', meterId: 'meter1', metric: 'register', unit: 'kWh', start: '2019-10-30T13:15:00-04:00', value: fake.register(fake.meters[0], Date.UTC(2019, 9, 30, 17, 15)), timeStamping: '2019-10-30 13:15:00' });
    assert.equal(readings[1].meterId, 'meter2');
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
    assert.equal(fake.server.requestsTo('/data')[0].query.get('responseType'), 'json');
  });

  for (const route of ['data', 'interval'] as const) {
    it(`parses /${route} in json, xml and yaml (block and flow style) to the same readings`, async () => {
      fake.window = 3;
      const read = (type: ResponseType) => (route === 'data' ? api.latestReadings(options(fake, type)) : api.latestIntervals(options(fake, type)));
      const json = await read('json');
      const xml = await read('xml');
      const yaml = await read('yaml');
      fake.yamlStyle = 'flow';
      const yamlFlow = await read('yaml');
      assert.equal(json.readings.length, 6);
      const strip = (r: { readings: Array<Record<string, unknown>> }) => r.readings.map(({ timeStamping: _raw, ...rest }) => rest);
      assert.deepEqual(strip(xml), strip(json));
      assert.deepEqual(strip(yaml), strip(json));
      assert.deepEqual(strip(yamlFlow), strip(json));
      assert.deepEqual([...json.problems, ...xml.problems, ...yaml.problems, ...yamlFlow.problems], []);
      assert.match(String(xml.readings[0].timeStamping), /T/, 'XML writes the T form; it reads the same');
      assert.deepEqual(fake.server.requestsTo(`/${route}`).map((r) => r.query.get('responseType')), ['json', 'xml', 'yaml', 'yaml']);
      if (route === 'interval') {
        assert.equal(json.readings[0].metric, 'interval');
        assert.equal(json.readings[0].granularity, 'interval');
      } else {
        assert.equal(json.readings[0].granularity, undefined, 'register snapshots have no period');
      }
    });
  }

  it('never sends a response type Intellimeter does not offer (the request would still run)', async () => {
    await assert.rejects(api.latestReadings(options(fake, 'html' as ResponseType)), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.code, 'CONFIG');
      assert.match(error.message, /"html" is not a response type Intellimeter offers\. Choose json, xml or yaml/);
      return true;
    });
    assert.equal(fake.server.requests.length, 0);
  });

  it('the fake answers 400 to a bad responseType, and the client reports it with the server text', async () => {
    await api.latestReadings(options(fake, 'json'));
    await assert.rejects(client.request({ path: '/data', query: { responseType: 'html' } }), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.status, 400);
      assert.match(error.message, /Unknown responseType html/);
      return true;
    });
  });

  it('reads the history file in csv (default), json, xml and yaml to the same readings', async () => {
    fake.time = Date.UTC(2019, 9, 31, 4, 0); // 00:00 on the 31st in Toronto: the 30th is complete.
    const history = (fileType?: 'csv' | 'json' | 'xml' | 'yaml') => api.history({ zone: ZONE, unit: 'kWh', now: fake.now, start: '2019-10-30', end: '2019-10-30', fileType, meter: 'meter2' });
    const csv = await history();
    assert.equal(fake.server.requestsTo('/file')[0].query.get('type'), 'csv');
    assert.equal(fake.server.requestsTo('/file')[0].query.get('meter'), 'meter2');
    assert.equal(fake.server.requestsTo('/file')[0].query.get('responseType'), null, '/file takes its format from type');
    assert.equal(csv.readings.length, 288, 'one reading per 5 minutes for a day');
    assert.equal(csv.readings[0].start, '2019-10-30T00:00:00-04:00');
    assert.equal(csv.readings.at(-1)!.start, '2019-10-30T23:55:00-04:00');
    assert.ok(csv.readings.every((r) => r.meterId === 'meter2' && r.metric === 'register'));
    const strip = (r: { readings: Array<Record<string, unknown>> }) => r.readings.map(({ timeStamping: _raw, ...rest }) => rest);
    for (const type of ['json', 'xml', 'yaml'] as const) assert.deepEqual(strip(await history(type)), strip(csv), type);
    fake.csvLayout = 'wide';
    assert.deepEqual(strip(await history('csv')), strip(csv), 'wide csv (one column per meter)');
  });

  it('takes history dates as Dates or time stamps in the API zone, and labels interval history', async () => {
    fake.time = Date.UTC(2019, 9, 31, 4, 0);
    const result = await api.history({ zone: ZONE, unit: 'kWh', now: fake.now, start: new Date('2019-10-30T12:00:00Z'), end: Date.parse('2019-10-31T02:00:00Z'), metric: 'interval' });
    const request = fake.server.requestsTo('/file')[0];
    assert.equal(request.query.get('start'), '2019-10-30');
    assert.equal(request.query.get('end'), '2019-10-30', '02:00 UTC on the 31st is still the 30th in Toronto');
    assert.equal(result.readings[0].metric, 'interval');
    assert.equal(result.readings[0].granularity, 'interval');
    assert.equal(result.readings.length, 2 * 288);
  });

  it('refuses bad history dates before sending anything', async () => {
    await assert.rejects(api.history({ zone: ZONE, unit: 'kWh', now: 0, start: '2019-02-30', end: '2019-03-01' }), /history start date "2019-02-30" does not exist/);
    await assert.rejects(api.history({ zone: ZONE, unit: 'kWh', now: 0, start: '30/10/2019', end: '2019-03-01' }), /history start date "30\/10\/2019" is not a date\. Give the start date as YYYY-MM-DD/);
    await assert.rejects(api.history({ zone: ZONE, unit: 'kWh', now: 0, start: '2019-10-01', end: '' }), /history end date is empty/);
    await assert.rejects(api.history({ zone: ZONE, unit: 'kWh', now: 0, start: '2019-10-01', end: '2019-10-02', fileType: 'pdf' as 'csv' }), /"pdf" is not a history file type/);
    assert.equal(fake.server.requests.length, 0);
    assert.equal(toHistoryDate('2019-10-30T23:30:00-04:00', ZONE, 'start'), '2019-10-30');
  });

  it('explains a 400 and a 404 from /file', async () => {
    await assert.rejects(api.history({ zone: ZONE, unit: 'kWh', now: fake.now, start: '2019-10-30', end: '2019-10-30', meter: 'nope' }), /Intellimeter has no meter "nope"\. Check the spelling/);
    fake.server.fail({ kind: 'status', status: 400, body: { error: 'start is after the data' } }, 1, /^\/file$/);
    await assert.rejects(api.history({ zone: ZONE, unit: 'kWh', now: fake.now, start: '2019-10-30', end: '2019-10-30' }), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.status, 400);
      assert.match(error.message, /rejected the history request\. Intellimeter said: "start is after the data"\. Check the start and end dates/);
      return true;
    });
  });

  it('reads meter information by name or id in every response type', async () => {
    const expected = { id: 2, MeterId: 'meter2', ModbusId: 2, Port: 'USB0', NoPhases: '3', MeterType: 'I-45/MFX/636', ModbusMap: 'Priority.ici', SaveEvery: 5, startAddress: 1100 };
    for (const responseType of ['json', 'xml', 'yaml'] as const) {
      assert.deepEqual(await api.point({ by: 'name', value: 'meter2', responseType }), expected, responseType);
      assert.deepEqual(await api.point({ by: 'id', value: '2', responseType }), expected, responseType);
    }
    assert.equal(fake.server.requestsTo('/point')[1].query.get('id'), '2');
  });

  it('says which meter does not exist, and refuses a non-numeric id or an empty name', async () => {
    await assert.rejects(api.point({ by: 'name', value: 'meter9' }), /Intellimeter has no meter name "meter9"\. Check the spelling/);
    await assert.rejects(api.point({ by: 'id', value: 'abc' }), /meter id "abc" is not a number/);
    await assert.rejects(api.point({ by: 'name', value: ' ' }), /No meter name is set/);
  });

  it('retries a 503 and reports a truncated body as an invalid response', async () => {
    fake.server.fail({ kind: 'status', status: 503 }, 1, /^\/data$/);
    assert.equal((await api.latestReadings(options(fake, 'json'))).readings.length, 2);
    fake.server.fail({ kind: 'status', status: 200, headers: { 'Content-Type': 'application/xml' }, body: '<response><item type="dict"><MeterParam' }, 2, /^\/data$/);
    await assert.rejects(api.latestReadings(options(fake, 'xml')), /Intellimeter sent XML the node could not read/);
  });

  it('parses by the Content-Type when the server ignores responseType', async () => {
    fake.server.fail({ kind: 'status', status: 200, headers: { 'Content-Type': 'application/json' }, body: [{ MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: 1.5 }] }, 1, /^\/data$/);
    const { readings } = await api.latestReadings(options(fake, 'yaml'));
    assert.equal(readings[0].value, 1.5);
  });

  it('keeps good readings and names the bad records instead of dropping them silently', async () => {
    fake.server.fail(
      {
        kind: 'status',
        status: 200,
        headers: { 'Content-Type': 'application/json' },
        body: [
          { MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: 28540.24 },
          { MeterParam: 'meter2', TimeStamping: 'yesterday', value: 3 },
          { MeterParam: 'meter3', TimeStamping: '2019-10-30 13:15:00', value: 'n/a' },
          { MeterParam: 'meter4', TimeStamping: '2019-10-30 13:15:00', value: null },
        ],
      },
      1,
      /^\/data$/,
    );
    const { readings, problems } = await api.latestReadings(options(fake, 'json'));
    assert.deepEqual(readings.map((r) => [r.meterId, r.value]), [['meter1', 28540.24], ['meter4', null]]);
    assert.deepEqual(problems, ['record 2 (meter2): "yesterday" is not a time stamp (YYYY-MM-DD HH:MM:SS)', 'record 3 (meter3): value "n/a" is not a number']);
  });
});
