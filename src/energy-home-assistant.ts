import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { HomeAssistantPublisher, isBirthMessage, isStatusMessage, readHomeAssistantSettings, type MqttMessage } from './core/home-assistant';
import { statusView, type StatusView } from './core/runtime/status';
import { clockFrom, onInput, readSettingsAtDeploy, toNodeStatus, type Send } from './node-red/node-kit';

interface EnergyHomeAssistantDef extends NodeDef {
  discoveryPrefix: string;
  baseTopic: string;
  powerUnit: string;
}

export = function register(RED: NodeAPI): void {
  function EnergyHomeAssistant(this: Node, def: EnergyHomeAssistantDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const clock = clockFrom(RED);
    const show = (view: StatusView): void => node.status(toNodeStatus(RED, 'energy-home-assistant', view));
    const settings = readSettingsAtDeploy(RED, node, () => readHomeAssistantSettings(def));
    if (!settings) return;
    const publisher = new HomeAssistantPublisher(settings);
    let states = 0;

    /** Fresh messages for `mqtt out`: nothing of the input (an mqtt-in birth message's qos, properties) leaks into them. */
    function sendAll(send: Send, messages: MqttMessage[]): void {
      if (messages.length === 0) return;
      states += messages.filter((m) => m.topic.endsWith('/state')).length;
      send([messages.map((m) => ({ topic: m.topic, payload: m.payload, retain: m.retain, qos: m.qos }) as NodeMessage)]);
    }

    onInput(node, async (msg, send) => {
      // Home Assistant's status topic, wired in from an mqtt-in node: `online` = it (re)started.
      if (isStatusMessage(settings, msg.topic)) {
        if (isBirthMessage(settings, msg.topic, msg.payload)) {
          sendAll(send, publisher.birth());
          show(statusView('success', 'announced', { meters: publisher.meterCount }));
        }
        return;
      }
      const { messages, rejected } = publisher.publish(msg.payload, clock.now());
      sendAll(send, messages);
      if (rejected.length > 0) {
        // The rest is published; the readings left out go to Catch nodes with the reason each.
        const error = new Error(`${rejected.length} reading(s) not published to Home Assistant: ${rejected[0].reason}. msg.payload lists them with the reason for each.`);
        node.error(error, { ...msg, payload: rejected } as NodeMessage);
        show(statusView('warning', 'rejected', { count: rejected.length }));
        return;
      }
      show(statusView('success', 'published', { meters: publisher.meterCount, states }));
    });
  }

  RED.nodes.registerType('energy-home-assistant', EnergyHomeAssistant as unknown as (this: Node, def: NodeDef) => void);
};
