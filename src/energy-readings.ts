import type { Node, NodeAPI, NodeDef } from 'node-red';
import { readingsToPoints, telegramPoint } from './core/influxdb';
import { isParsedTelegram, telegramToReadings } from './core/p1-readings';
import { validateReading, type Reading } from './core/readings';
import { readChoice, statusView, type StatusView } from './core/runtime';
import { clockFrom, onInput, readSettingsAtDeploy, toNodeStatus } from './node-red/node-kit';

interface EnergyReadingsDef extends NodeDef {
  output: string;
}

const OUTPUTS = ['readings', 'influxdb'] as const;
type Output = (typeof OUTPUTS)[number];

export = function register(RED: NodeAPI): void {
  function EnergyReadings(this: Node, def: EnergyReadingsDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const clock = clockFrom(RED);
    const show = (view: StatusView): void => node.status(toNodeStatus(RED, 'energy-readings', view));
    const output: Output | undefined = readSettingsAtDeploy(RED, node, () => readChoice(def.output, 'Output', OUTPUTS, 'readings'));
    if (!output) return;

    /** Normalized readings from other nodes: the valid ones go on, the others to Catch nodes. */
    function checked(items: unknown[], msg: object): Reading[] {
      const good: Reading[] = [];
      const rejected: { reading: unknown; reason: string }[] = [];
      for (const item of items) {
        const problems = validateReading((item ?? {}) as Partial<Reading>);
        if (problems.length === 0) good.push(item as Reading);
        else rejected.push({ reading: item, reason: problems.join('; ') });
      }
      reportRejected(rejected, msg);
      return good;
    }

    function reportRejected(rejected: { reading: unknown; reason: string }[], msg: object): void {
      if (rejected.length === 0) return;
      node.error(new Error(`${rejected.length} item(s) of msg.payload are not valid readings: ${rejected[0].reason}. msg.payload lists them with the reason for each.`), { ...msg, payload: rejected });
    }

    onInput(node, async (msg, send) => {
      const payload = msg.payload;
      const receivedAt = clock.now();
      if (!isParsedTelegram(payload) && !Array.isArray(payload)) {
        throw new TypeError('msg.payload must be a parsed P1 telegram (from dsmr-p1-in) or an array of normalized readings.');
      }
      if (output === 'readings') {
        const readings = isParsedTelegram(payload) ? telegramToReadings(payload, { receivedAt }) : checked(payload, msg);
        send({ ...msg, payload: readings });
        show(statusView('success', 'readings', { count: readings.length }));
        return;
      }
      if (isParsedTelegram(payload)) {
        send({ ...msg, payload: telegramPoint(payload, { receivedAt }) });
        show(statusView('success', 'points', { count: 1 }));
        return;
      }
      const { points, rejected } = readingsToPoints(payload);
      reportRejected(rejected, msg);
      // influxdb out would write an empty array as a single odd value: nothing to write, nothing sent.
      if (points.length > 0) send({ ...msg, payload: points });
      show(statusView(points.length > 0 ? 'success' : 'warning', 'points', { count: points.length }));
    });
  }

  RED.nodes.registerType('energy-readings', EnergyReadings as unknown as (this: Node, def: NodeDef) => void);
};
