import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeIntellimeter, FAKE_API_KEY } from '../../../testing/fakes/intellimeter';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { isServiceError } from '../../../src/core/http/errors';
import { validateReading } from '../../../src/core/readings';
import { createIntellimeterSessionAuth } from '../../../src/core/intellimeter/session';
import { IntellimeterApi, toHistoryDate } from '../../../src/core/intellimeter/api';

const ZONE = 'America/Toronto';
const options = (fake: FakeIntellimeter) => ({ zone: ZONE, unit: 'kWh', now: fake.now });

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
    const { readings, problems } = await api.latestReadings(options(fake));
    assert.deepEqual(problems, []);
    assert.deepEqual(readings[0], { source: 'intellimeter', meterId: 'meter1', metric: 'register', unit: 'kWh', start: '2019-10-30T13:15:00-04:00', value: fake.register(fake.meters[0], Date.UTC(2019, 9, 30, 17, 15)), timeStamping: '2019-10-30 13:15:00' });
    assert.equal(readings[1].meterId, 'meter2');
    for (const reading of readings) assert.deepEqual(validateReading(reading), []);
    assert.equal(fake.server.requestsTo('/data')[0].query.get('responseType'), 'json');
  });

  for (const route of ['data', 'interval'] as const) {
    it(`asks /${route} for JSON and reads it to readings`, async () => {
      fake.window = 3;
      const result = route === 'data' ? await api.latestReadings(options(fake)) : await api.latestIntervals(options(fake));
      assert.equal(result.readings.length, 6);
      assert.deepEqual(result.problems, []);
      const [request] = fake.server.requestsTo(`/${route}`);
      assert.equal(request.query.get('responseType'), 'json');
      assert.match(String(request.headers.accept), /^application\/json/);
      if (route === 'interval') {
        assert.equal(result.readings[0].metric, 'interval');
        assert.equal(result.readings[0].granularity, 'interval');
      } else {
        assert.equal(result.readings[0].granularity, undefined, 'register snapshots have no period');
      }
    });
  }

  it('the fake answers 400 to a bad responseType, and the client reports it with the server text', async () => {
    await api.latestReadings(options(fake));
    await assert.rejects(client.request({ path: '/data', query: { responseType: 'html' } }), (error: unknown) => {
      assert.ok(isServiceError(error));
      assert.equal(error.status, 400);
      assert.match(error.message, /Unknown responseType html/);
      return true;
    });
  });

  it('asks the history file for JSON (its default is CSV) and reads a day of 5-minute readings', async () => {
    fake.time = Date.UTC(2019, 9, 31, 4, 0); // 00:00 on the 31st in Toronto: the 30th is complete.
    const history = await api.history({ zone: ZONE, unit: 'kWh', now: fake.now, start: '2019-10-30', end: '2019-10-30', meter: 'meter2' });
    const [request] = fake.server.requestsTo('/file');
    assert.equal(request.query.get('type'), 'json');
    assert.equal(request.query.get('meter'), 'meter2');
    assert.equal(request.query.get('responseType'), null, '/file takes its format from type');
    assert.equal(history.readings.length, 288, 'one reading per 5 minutes for a day');
    assert.equal(history.readings[0].start, '2019-10-30T00:00:00-04:00');
    assert.equal(history.readings.at(-1)!.start, '2019-10-30T23:55:00-04:00');
    assert.ok(history.readings.every((r) => r.meterId === 'meter2' && r.metric === 'register'));
    for (const reading of history.readings) assert.deepEqual(validateReading(reading), []);
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

  it('reads meter information by name or id, as JSON', async () => {
    const expected = { id: 2, MeterId: 'meter2', ModbusId: 2, Port: 'USB0', NoPhases: '3', MeterType: 'I-45/MFX/636', ModbusMap: 'Priority.ici', SaveEvery: 5, startAddress: 1100 };
    assert.deepEqual(await api.point({ by: 'name', value: 'meter2' }), expected);
    assert.deepEqual(await api.point({ by: 'id', value: '2' }), expected);
    const requests = fake.server.requestsTo('/point');
    assert.equal(requests[1].query.get('id'), '2');
    assert.deepEqual(requests.map((r) => r.query.get('responseType')), ['json', 'json']);
  });

  it('says which meter does not exist, and refuses a non-numeric id or an empty name', async () => {
    await assert.rejects(api.point({ by: 'name', value: 'meter9' }), /Intellimeter has no meter name "meter9"\. Check the spelling/);
    await assert.rejects(api.point({ by: 'id', value: 'abc' }), /meter id "abc" is not a number/);
    await assert.rejects(api.point({ by: 'name', value: ' ' }), /No meter name is set/);
  });

  it('retries a 503, and a cut-off JSON body, then reads the answer', async () => {
    fake.server.fail({ kind: 'status', status: 503 }, 1, /^\/data$/);
    assert.equal((await api.latestReadings(options(fake))).readings.length, 2);
    fake.server.fail({ kind: 'truncate' }, 1, /^\/data$/);
    assert.equal((await api.latestReadings(options(fake))).readings.length, 2);
    assert.equal(fake.server.requestsTo('/data').length, 4);
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
    const { readings, problems } = await api.latestReadings(options(fake));
    assert.deepEqual(readings.map((r) => [r.meterId, r.value]), [['meter1', 28540.24], ['meter4', null]]);
    assert.deepEqual(problems, ['record 2 (meter2): "yesterday" is not a time stamp (YYYY-MM-DD HH:MM:SS)', 'record 3 (meter3): value "n/a" is not a number']);
  });
});
