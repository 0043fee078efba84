import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { FakeMetry } from '../../../testing/fakes/metry';
import { FakeMetryExtras } from '../../../testing/fakes/metry-extra';
import { OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } from '../../../testing/fakes/oauth2';
import { ServiceHttpClient } from '../../../src/core/http/client';
import { createOAuth2Auth, metryOAuthEndpoints } from '../../../src/core/http/oauth2';
import { ManualClock } from '../../../testing/manual-clock';
import { collect } from '../../../src/core/http/pagination';
import { listMeters } from '../../../src/core/metry/meters';
import { ConsumptionExport, ReadingsEvent } from '../../../src/core/metry/export';

describe('a customer account reached through OAuth2 (the fake Metry with OAuth on its host)', () => {
  let metry: FakeMetry;
  const clock = new ManualClock(Date.parse('2024-01-15T12:00:00Z'));

  before(async () => {
    metry = await new FakeMetry().start();
  });
  after(() => metry.stop());

  it('lists meters and exports consumption with the OAuth access token, renewing it when the hour is up', async () => {
    const oauth = new FakeMetryExtras(metry).enableOAuth(clock);
    metry.addMeters(2, { dataFrom: '2023-01-01T00:00:00+01:00', dataUntil: '2024-01-01T00:00:00+01:00' });
    const persisted: string[] = [];
    const auth = createOAuth2Auth({
      endpoints: metryOAuthEndpoints(metry.baseUrl),
      client: { clientId: OAUTH_CLIENT_ID, clientSecret: OAUTH_CLIENT_SECRET, scope: 'basic' },
      refreshToken: oauth.issueRefreshToken(),
      clock,
      persistRefreshToken: (token) => void persisted.push(token),
    });
    const client = new ServiceHttpClient({ service: 'metry', baseURL: metry.baseUrl, auth, clock });
    try {
      const meters = await collect(listMeters(client));
      assert.equal(meters.length, 2);
      clock.advance(3_600_000);
      const exporter = new ConsumptionExport(client, { granularity: 'month', metrics: ['energy'], period: '2023', now: clock.now() });
      let readings = 0;
      for await (const event of exporter.run(meters)) if (event.type === 'readings') readings += (event as ReadingsEvent).readings.length;
      assert.equal(readings, 24);
      assert.deepEqual(metry.server.requests.map((r) => r.path.replace(/\/[0-9a-f]{24}.*$/, '/…')), ['/oauth/token', '/api/v2/meters', '/oauth/token', '/api/v2/consumptions/multi/month/202301-202312']);
      assert.equal(persisted.length, 2, 'each rotated refresh token was handed over for the credential store');
      assert.ok(metry.server.requests.every((r) => !r.query.toString().includes(OAUTH_CLIENT_SECRET) && !persisted.some((t) => r.query.toString().includes(t))));
    } finally {
      await client.close();
    }
  });
});
