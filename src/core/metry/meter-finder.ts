/**
 * Finds meters the input names by id only (a bare `root._id`), for their time zone and
 * `consumption_stats`: from the account's listing (every box, not revoked), 50 meters a request,
 * instead of one `GET /meters/{id}` each — 2,000 ids cost 40 requests, not 2,000 — and without
 * relying on that endpoint taking a `root._id`, which Metry does not document for shared meters.
 * One finder per export run: the listing is paged once, as far as the ids asked for so far need.
 */
import type { HttpRequester } from '../http/client';
import { listMeters } from './meters';
import { ConsumptionMeter, toConsumptionMeters } from './plan';
import type { MetryMeter } from './types';

export class MeterFinder {
  private listing?: AsyncGenerator<MetryMeter>;
  private exhausted = false;
  /** Every meter listed so far, by `root._id` and by reference `_id`. */
  private readonly listed = new Map<string, ConsumptionMeter>();

  constructor(
    private readonly requester: HttpRequester,
    private readonly options: { signal?: AbortSignal; onPage?: () => void } = {},
  ) {}

  /** The meters found, by the id asked for; an id the account does not list is absent. */
  async find(ids: readonly string[]): Promise<Map<string, ConsumptionMeter>> {
    const wanted = new Set(ids);
    const found = new Map<string, ConsumptionMeter>();
    for (const id of wanted) {
      const meter = this.listed.get(id);
      if (meter) found.set(id, meter);
    }
    while (found.size < wanted.size && !this.exhausted) {
      this.listing ??= listMeters(this.requester, { box: '', revoked: false }, { signal: this.options.signal, onPage: () => this.options.onPage?.() });
      const next = await this.listing.next();
      if (next.done) {
        this.exhausted = true;
        break;
      }
      const [meter] = toConsumptionMeters([next.value]);
      for (const id of [meter.id, next.value._id]) {
        this.listed.set(id, meter);
        if (wanted.has(id)) found.set(id, meter);
      }
    }
    return found;
  }
}
