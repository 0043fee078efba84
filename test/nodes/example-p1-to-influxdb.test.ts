/**
 * The p1-to-influxdb example as shipped, in the real runtime with node-red-contrib-influxdb's
 * `influxdb out` against a real InfluxDB 1.x: the point a Grafana query would find.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { coreNode, moduleNode, placeExample, readExample, type FlowNode } from '../../testing/examples';
import { until } from '../../testing/manual-clock';
import { fixturePath, helper, nodeModule } from '../../testing/runtime';
import { skipWithout, startInfluxDb, type InfluxServer } from '../../testing/servers';

/** DSMR 5 Iskra AM550: a dead M-Bus channel 1, gas on channel 2. */
const FIXTURE = fixturePath('dsmr', 'ndokter_v5-iskra-am550-two-mbus.txt');

describe('example p1-to-influxdb with InfluxDB', { skip: skipWithout('influxdb') }, () => {
  let influx: InfluxServer;

  before(async () => {
    influx = await startInfluxDb('energy');
    await new Promise<void>((resolve) => helper.startServer(resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await influx.stop();
  });

  async function deploy(): Promise<void> {
    const placed = placeExample(readExample('p1-to-influxdb.json'), (n: FlowNode) => {
      if (n.type === 'dsmr-p1-in') Object.assign(n, { source: 'file', filePath: FIXTURE, interval: '3600' });
      if (n.type === 'influxdb') Object.assign(n, { hostname: '127.0.0.1', port: String(influx.port), database: influx.database });
    });
    const modules = [nodeModule('dsmr-p1-in'), nodeModule('energy-readings'), moduleNode('node-red-contrib-influxdb/influxdb.js'), coreNode('common/25-catch.js'), coreNode('common/90-comment.js')];
    await helper.load(modules as never, placed.nodes as never);
  }

  it('says what it needs, and writes one point per telegram at the telegram time, tagged with meter id and source', async () => {
    const flow = readExample('p1-to-influxdb.json');
    assert.equal(flow[0].type, 'comment');
    assert.match(flow[0].info, /node-red-contrib-influxdb/);
    assert.match(flow[0].info, /Manage palette/);
    await deploy();
    await until(async () => (await influx.query('SELECT * FROM p1')).length > 0, 'the point in InfluxDB');
    await helper.unload();

    const [series] = await influx.query('SELECT * FROM p1');
    assert.equal(series.values.length, 1, 'one point for one telegram');
    const row = Object.fromEntries(series.columns.map((column, i) => [column, series.values[0][i]]));
    // 0-0:1.0.0(200426223325S): 22:33:25 summer time = 20:33:25 UTC.
    assert.equal(row.time, Date.parse('2020-04-26T20:33:25Z'));
    assert.equal(row.meterId, 'E0044007382246019');
    assert.equal(row.source, 'dsmr-p1');
    assert.equal(row.electricity_delivered_tariff1, 2130.115);
    assert.equal(row.electricity_delivered_tariff2, 245.467);
    assert.equal(row.power_delivered, 0.111);
    assert.equal(row.voltage_l3, 222.9);
    assert.equal(row.current_l3, 1);
    assert.equal(row.power_delivered_l3, 0.055);
    assert.equal(row.gas_delivered, 246.138);
    const tags = await influx.query('SHOW TAG KEYS FROM p1');
    assert.deepEqual(tags[0].values.map((v) => v[0]).sort(), ['meterId', 'source']);
  });

  it('the same telegram written again (a redeploy replays it) overwrites the point instead of adding one', async () => {
    const at = Date.parse('2020-04-26T20:33:25Z');
    await influx.write(`p1,meterId=E0044007382246019,source=dsmr-p1 power_delivered=-1 ${at}`);
    assert.equal((await influx.query('SELECT power_delivered FROM p1'))[0].values[0][1], -1, 'tampered');
    await deploy();
    await until(async () => (await influx.query('SELECT power_delivered FROM p1'))[0].values[0][1] === 0.111, 'the replayed telegram to overwrite the point');
    await helper.unload();
    const [series] = await influx.query('SELECT * FROM p1');
    assert.equal(series.values.length, 1);
  });
});
