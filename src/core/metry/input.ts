/**
 * What a metry-consumption message asks for: `msg.force` (a forced re-export of a meter and
 * period) and the meters, from `msg.force.meter(s)` or else from `msg.payload`.
 */
export interface ForceRequest {
  meter?: unknown;
  meters?: unknown;
  period?: unknown;
}

/** `msg.force` as a request: `true` means "the payload's meters, the node's period". */
export function forceRequest(force: unknown): ForceRequest | undefined {
  if (!force) return undefined;
  return typeof force === 'object' ? (force as ForceRequest) : {};
}

export function metersFromMessage(payload: unknown, force: ForceRequest | undefined): unknown[] {
  const input = force?.meters ?? force?.meter ?? payload;
  return Array.isArray(input) ? input : [input];
}
