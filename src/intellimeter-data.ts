import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { ClientLease } from './core/http/client';
import { IntellimeterApi } from './core/intellimeter/api';
import { DataSettings, IntellimeterDataConfig, OperationResult, parseSettings, runOperation } from './core/intellimeter/operation';
import { NewReadingsFilter, Poller } from './core/intellimeter/poller';
import { intellimeterSessionOf } from './core/intellimeter/session';
import { getServiceConfig } from './node-red/energy-service-types';
import { clockFrom, errorCode, evaluateProperty, onClose, onInput, reportError, status, toError } from './node-red/node-kit';

interface IntellimeterDataDef extends NodeDef, IntellimeterDataConfig {
  server: string;
}

const SEEN_KEY = 'intellimeterNewestSeen';

export = function register(RED: NodeAPI): void {
  function IntellimeterData(this: Node, def: IntellimeterDataDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const clock = clockFrom(RED);
    let settings: DataSettings | undefined;
    let scope: ClientLease | undefined;
    let api: IntellimeterApi | undefined;
    let releaseSession: (() => Promise<void>) | undefined;
    let setupError: Error | undefined;
    try {
      settings = parseSettings(def);
      scope = getServiceConfig(RED, def.server, 'intellimeter').leaseClient();
      api = new IntellimeterApi(scope);
      // The session belongs to the config node; this node holds it so the last user to close logs out.
      releaseSession = intellimeterSessionOf(scope.client.auth)?.retain(scope.client);
    } catch (error) {
      setupError = toError(error);
      node.status(status.error('config'));
      reportError(node, setupError);
    }
    // A context store without synchronous access throws on get/set; then the state lives in memory only.
    const remember = (write?: () => void): unknown => {
      try {
        return write ? write() : node.context().get(SEEN_KEY);
      } catch (error) {
        node.warn(`Cannot use node context to remember the newest readings: ${toError(error).message}`);
        if (settings) settings.persist = false;
        return undefined;
      }
    };
    const filter = new NewReadingsFilter(settings?.persist ? remember() : undefined);

    async function execute(msg: NodeMessage): Promise<OperationResult> {
      if (setupError || !settings || !api) throw setupError ?? new Error('intellimeter-data is not configured');
      const needsDates = settings.operation === 'file';
      const input = {
        start: needsDates ? await evaluateProperty(RED, def.start ?? '', def.startType ?? 'str', node, msg) : undefined,
        end: needsDates ? await evaluateProperty(RED, def.end ?? '', def.endType ?? 'str', node, msg) : undefined,
        meter: settings.operation === 'file' || settings.operation === 'point' ? await evaluateProperty(RED, def.meter ?? '', def.meterType ?? 'str', node, msg) : undefined,
      };
      node.status(status.working(RED._('intellimeter-data.status.requesting')));
      const result = await runOperation(api, settings, input, clock.now(), filter);
      if (settings.persist && result.kind === 'readings') remember(() => node.context().set(SEEN_KEY, filter.snapshot()));
      const time = new Date(clock.now()).toTimeString().slice(0, 5);
      if (result.kind === 'point') node.status(status.success(RED._('intellimeter-data.status.point', { time })));
      else {
        if (result.problems.length > 0) node.warn(RED._('intellimeter-data.warn.skipped', { count: result.problems.length, problems: result.problems.slice(0, 5).join('; ') }));
        const key = settings.onlyNew && result.readings.length < result.received ? 'intellimeter-data.status.new' : 'intellimeter-data.status.readings';
        node.status(status.success(RED._(key, { count: result.readings.length, time })));
      }
      return result;
    }

    function write(msg: NodeMessage, result: OperationResult): NodeMessage {
      const record = msg as NodeMessage & Record<string, unknown>;
      if (result.kind === 'point') record.payload = result.point;
      else {
        record.payload = result.readings;
        if (result.problems.length > 0) record.skipped = result.problems;
      }
      return msg;
    }

    onInput(node, async (msg, send) => {
      send(write(msg, await execute(msg)));
    });

    let poller: Poller | undefined;
    let lastPollError: string | undefined;
    if (settings && settings.pollMs > 0 && !setupError) {
      poller = new Poller({
        intervalMs: settings.pollMs,
        clock,
        poll: async () => {
          const result = await execute({});
          lastPollError = undefined;
          // A poll that found nothing new sends nothing: a stored series gets each reading once.
          if (result.kind !== 'readings' || result.readings.length > 0) node.send(write({}, result));
        },
        onError: (error) => {
          node.status(status.error(errorCode(error)));
          // The same failure every few minutes would flood the log; report it again only when it changes.
          const text = toError(error).message;
          if (text !== lastPollError) reportError(node, error, { payload: [], errorCode: (error as { code?: unknown }).code });
          lastPollError = text;
        },
      });
      poller.start();
    }

    onClose(node, async () => {
      // Abort the request in flight first, so stopping the poller does not wait for it.
      const stopping = poller?.stop();
      scope?.close();
      await stopping;
      await releaseSession?.();
    });
  }

  RED.nodes.registerType('intellimeter-data', IntellimeterData as unknown as (this: Node, def: NodeDef) => void);
};
