import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkMappingTable,
  createMapper,
  nameSimilarity,
  parseOwnMeters,
  proposeMappings,
  suggestMappings,
  summariseMeter,
} from '../../../src/core/metry/meter-mapping';
import type { MetryMeter } from '../../../src/core/metry/types';

function meter(n: number, extra: Partial<MetryMeter> = {}): MetryMeter {
  return { _id: `ref${n}`, root: { _id: `root${n}` }, name: `Meter ${n}`, ean: `73599900000000000${n}`, tags: [], ...extra };
}

describe('mapping Metry meters to the user’s own ids', () => {
  it('maps by root id, reference id, EAN or exact name from the table, first row winning', () => {
    const map = createMapper({
      table: [
        { meter: 'root1', mappedId: 'BLD-1' },
        { meter: 'ref2', mappedId: 'BLD-2' },
        { meter: '735999000000000003', mappedId: 'BLD-3' },
        { meter: 'meter 4', mappedId: 'BLD-4' },
        { meter: 'root1', mappedId: 'DUPLICATE' },
      ],
    });
    assert.deepEqual(map(meter(1)), { mappedId: 'BLD-1', via: 'table' });
    assert.equal(map(meter(2)).mappedId, 'BLD-2');
    assert.equal(map(meter(3)).mappedId, 'BLD-3');
    assert.equal(map(meter(4)).mappedId, 'BLD-4');
    assert.deepEqual(map(meter(5)), { reason: 'not in the mapping table' });
  });

  it('maps by a tag with a prefix, or by the only tag, and explains what is missing', () => {
    const prefixed = createMapper({ useTags: true, tagPrefix: 'mapped:' });
    assert.deepEqual(prefixed(meter(1, { tags: ['north', 'mapped:BLD-9'] })), { mappedId: 'BLD-9', via: 'tag' });
    assert.deepEqual(prefixed(meter(1, { tags: [{ name: 'Mapped: BLD-8' }] })), { mappedId: 'BLD-8', via: 'tag' });
    assert.equal(prefixed(meter(1, { tags: ['north'] })).reason, 'no tag starting with "mapped:"');
    assert.match(prefixed(meter(1, { tags: ['mapped:A', 'mapped:B'] })).reason!, /several tags could be the id \(A, B\)/);
    const onlyTag = createMapper({ useTags: true });
    assert.equal(onlyTag(meter(1, { tags: ['BLD-7'] })).mappedId, 'BLD-7');
    assert.equal(onlyTag(meter(1, { tags: [] })).reason, 'no tag');
    // The table comes first, tags fill the gaps.
    const both = createMapper({ table: [{ meter: 'root1', mappedId: 'FROM-TABLE' }], useTags: true });
    assert.equal(both(meter(1, { tags: ['FROM-TAG'] })).mappedId, 'FROM-TABLE');
    assert.equal(both(meter(2, { tags: ['FROM-TAG'] })).mappedId, 'FROM-TAG');
  });

  it('points out empty and duplicate rows of a table', () => {
    assert.deepEqual(checkMappingTable([{ meter: 'a', mappedId: '1' }, { meter: '', mappedId: '2' }, { meter: 'A', mappedId: '' }]), [
      'Row 2 has no Metry meter.',
      'Row 3 has no id of your own.',
      'Rows 1 and 3 both map A; the first one is used.',
    ]);
  });

  it('shows only metadata of a meter in the dialog', () => {
    const summary = summariseMeter({ ...meter(1, { tags: ['x'], type: 'heat', address: { street: 'Storgatan 1', city: 'Stockholm' } }), holder: { token: 'nope' }, consumption_stats: {} });
    assert.deepEqual(summary, { id: 'root1', name: 'Meter 1', ean: '735999000000000001', address: 'Storgatan 1, Stockholm', tags: ['x'], type: 'heat' });
  });
});

describe('suggestions for the Map meters dialog', () => {
  const meters = [
    summariseMeter(meter(1, { name: 'Kungsgatan 12 el', ean: '735999000000000111' })),
    summariseMeter(meter(2, { name: 'Drottninggatan 5 värme', ean: '735999000000000222' })),
    summariseMeter(meter(3, { name: 'Something else', ean: '' })),
  ];

  it('reads pasted lines of id, name and EAN in any of the usual separators', () => {
    assert.deepEqual(parseOwnMeters('BLD-1;Kungsgatan 12\nBLD-2\t735999000000000222\n\n BLD-3 , Other , x '), [
      { id: 'BLD-1', fields: ['BLD-1', 'Kungsgatan 12'] },
      { id: 'BLD-2', fields: ['BLD-2', '735999000000000222'] },
      { id: 'BLD-3', fields: ['BLD-3', 'Other', 'x'] },
    ]);
  });

  it('ranks an exact EAN match first, then by name similarity, and leaves weak matches out', () => {
    const own = parseOwnMeters([
      'BLD-K;Kungsgatan 12',
      'BLD-D;Drottninggatan 5 varme',
      'BLD-E;Kungsg 12;735999 000000000111',
      'BLD-Z;Zebra',
    ].join('\n'));
    const [first, second, third] = suggestMappings(meters, own);
    assert.deepEqual(first.candidates.map((c) => [c.ownId, c.reason]), [['BLD-E', 'ean'], ['BLD-K', 'name']]);
    assert.equal(first.candidates[0].score, 1);
    assert.ok(first.candidates[1].score < 1);
    assert.equal(second.candidates[0].ownId, 'BLD-D', 'accents do not get in the way');
    assert.equal(second.candidates[0].reason, 'name');
    assert.deepEqual(third.candidates, []);
  });

  it('fills in only certain suggestions, each of the user ids once', () => {
    const proposed = proposeMappings([
      { meterId: 'm1', candidates: [{ ownId: 'A', score: 1, reason: 'ean' }] },
      { meterId: 'm2', candidates: [{ ownId: 'B', score: 0.85, reason: 'name' }] },
      { meterId: 'm3', candidates: [{ ownId: 'B', score: 0.95, reason: 'name' }] },
      { meterId: 'm4', candidates: [{ ownId: 'C', score: 0.6, reason: 'name' }] },
      { meterId: 'm5', candidates: [] },
    ]);
    assert.deepEqual(proposed, { m1: 'A', m3: 'B' });
  });

  it('does not let shared street words of addresses pass for a match', () => {
    const street = [summariseMeter(meter(11, { name: 'Meter 11', address: { street: 'Storgatan 12', zip: '111 22', city: 'Stockholm' } }))];
    const [suggestion] = suggestMappings(street, parseOwnMeters('BLD-K;Kungsgatan 12'));
    assert.deepEqual(proposeMappings([suggestion]), {});
  });

  it('scores name similarity between 0 and 1', () => {
    assert.equal(nameSimilarity('Kungsgatan 12', 'kungsgatan  12'), 1);
    assert.ok(nameSimilarity('Kungsgatan 12 el', 'Kungsgatan 12') > 0.7);
    assert.ok(nameSimilarity('Kungsgatan 12', 'Zebra') < 0.2);
    assert.equal(nameSimilarity('', 'x'), 0);
  });
});
