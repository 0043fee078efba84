import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectFormat, parseBody, parseCsv, parseXml, parseYaml } from '../../../src/core/intellimeter/formats';
import { readingsFromRecords, recordsFrom } from '../../../src/core/intellimeter/normalize';
import { isServiceError } from '../../../src/core/http/errors';

const DOC_RECORDS = [
  { MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: 28540.24 },
  { MeterParam: 'meter2', TimeStamping: '2019-10-30 13:15:00', value: 35757.359 },
];

describe('Intellimeter body parsers', () => {
  describe('XML', () => {
    it('reads the documented /data shape with typed values', () => {
      const xml =
        '<?xml version="1.0" encoding="UTF-8" ?><response><item type="dict"><MeterParam type="str">meter1</MeterParam><TimeStamping type="str">2019-10-30T13:15:00</TimeStamping><value type="float">28540.24</value></item>' +
        '<item type="dict"><MeterParam type="str">meter2</MeterParam><TimeStamping type="str">2019-10-30T13:15:00</TimeStamping><value type="float">35757.359</value></item></response>';
      assert.deepEqual(parseXml(xml), DOC_RECORDS.map((r) => ({ ...r, TimeStamping: '2019-10-30T13:15:00' })));
    });

    it('reads the documented account record with int, str and bool, and an empty response', () => {
      const xml = '<?xml version="1.0" encoding="UTF-8" ?><Response><uuid type="int">1</uuid><username type="str">test</username><xml type="bool">True</xml><project_name type="str">my &amp; &lt;project&gt; &#233;</project_name></Response>';
      assert.deepEqual(parseXml(xml), { uuid: 1, username: 'test', xml: true, project_name: 'my & <project> é' });
      assert.deepEqual(parseXml('<?xml version="1.0" encoding="UTF-8" ?><response></response>'), {});
    });

    it('copes with whitespace, comments, CDATA, self-closing and untyped elements', () => {
      const xml = `<?xml version="1.0"?>\n<!-- export -->\n<root>\n  <item>\n    <MeterParam><![CDATA[meter <1>]]></MeterParam>\n    <TimeStamping>2019-10-30T13:15:00</TimeStamping>\n    <value type="float">1.5</value>\n    <note/>\n  </item>\n</root>`;
      assert.deepEqual(parseXml(xml), [{ MeterParam: 'meter <1>', TimeStamping: '2019-10-30T13:15:00', value: 1.5, note: '' }]);
    });

    it('fails clearly on broken XML', () => {
      assert.throws(() => parseBody('<response><item type="dict"><MeterParam>', 'xml'), (error: unknown) => isServiceError(error) && error.code === 'INVALID_RESPONSE' && /could not read \(<MeterParam> is not closed\)/.test(error.message));
      assert.throws(() => parseBody('<a></b>', 'xml'), /closed by another tag/);
    });
  });

  describe('YAML', () => {
    it('reads PyYAML block style', () => {
      const yaml = "- MeterParam: meter1\n  TimeStamping: '2019-10-30 13:15:00'\n  value: 28540.24\n- MeterParam: meter2\n  TimeStamping: '2019-10-30 13:15:00'\n  value: 35757.359\n";
      assert.deepEqual(parseYaml(yaml), DOC_RECORDS);
    });

    it('reads PyYAML flow style, wrapped over lines, and unquoted time stamps', () => {
      const yaml = "- {MeterParam: meter1, TimeStamping: '2019-10-30 13:15:00',\n    value: 28540.24}\n- {MeterParam: meter2, TimeStamping: 2019-10-30 13:15:00, value: 35757.359}\n";
      assert.deepEqual(parseYaml(yaml), DOC_RECORDS);
    });

    it('reads documents, comments, quoting, tags, nulls, booleans and nesting', () => {
      const yaml = [
        '%YAML 1.1',
        '--- # a document',
        'id: 1',
        "MeterId: 'it''s # not a comment'",
        'Port: "USB\\u0030"',
        'NoPhases: !!str 3',
        'SaveEvery: 5 # minutes',
        'Spare: ~',
        'Active: True',
        'Ratio: 1.5e3',
        'Tags: [a, "b, c", 3]',
        'Nested:',
        '  inner: x',
        'List:',
        '- 1',
        '- two',
        '...',
      ].join('\n');
      assert.deepEqual(parseYaml(yaml), { id: 1, MeterId: "it's # not a comment", Port: 'USB0', NoPhases: '3', SaveEvery: 5, Spare: null, Active: true, Ratio: 1500, Tags: ['a', 'b, c', 3], Nested: { inner: 'x' }, List: [1, 'two'] });
    });

    it('reads empty collections and an empty body', () => {
      assert.deepEqual(parseYaml('[]\n'), []);
      assert.deepEqual(parseYaml('{}\n'), {});
      assert.equal(parseYaml(''), null);
    });

    it('fails clearly on what it does not support', () => {
      assert.throws(() => parseBody('- &a x\n- *a\n', 'yaml'), /YAML the node could not read \(anchors and aliases are not supported\)/);
      assert.throws(() => parseBody('text: |\n  block\n', 'yaml'), /block scalars are not supported/);
      assert.throws(() => parseBody("a: 'open\n", 'yaml'), /unterminated quoted string/);
      assert.throws(() => parseBody('a: 1\n   b: 2\n', 'yaml'), /unexpected indentation/);
    });
  });

  describe('CSV', () => {
    it('reads a header row, quotes, CRLF and a BOM', () => {
      const csv = '\uFEFFMeterParam,TimeStamping,value\r\n"meter ""1""",2019-10-30 13:15:00,28540.24\r\n\r\nmeter2,2019-10-30 13:15:00,35757.359\r\n';
      assert.deepEqual(parseBody(csv, 'csv'), [
        { MeterParam: 'meter "1"', TimeStamping: '2019-10-30 13:15:00', value: '28540.24' },
        { MeterParam: 'meter2', TimeStamping: '2019-10-30 13:15:00', value: '35757.359' },
      ]);
    });

    it('detects semicolons and tabs', () => {
      assert.deepEqual(parseCsv('Meter;Timestamp;Value\nm1;2019-10-30 13:15:00;1,5\n'), [{ Meter: 'm1', Timestamp: '2019-10-30 13:15:00', Value: '1,5' }]);
      assert.deepEqual(parseCsv('Meter\tTimestamp\tValue\nm1\t2019-10-30 13:15:00\t2\n'), [{ Meter: 'm1', Timestamp: '2019-10-30 13:15:00', Value: '2' }]);
    });

    it('reads a file without a header by position', () => {
      assert.deepEqual(parseCsv('meter1,2019-10-30 13:15:00,28540.24\nmeter2,2019-10-30 13:15:00,35757.359\n'), [
        { MeterParam: 'meter1', TimeStamping: '2019-10-30 13:15:00', value: '28540.24' },
        { MeterParam: 'meter2', TimeStamping: '2019-10-30 13:15:00', value: '35757.359' },
      ]);
    });

    it('fails clearly on an unclosed quote', () => {
      assert.throws(() => parseBody('a,b\n"x,1\n', 'csv'), /CSV the node could not read \(a quoted field is not closed\)/);
    });
  });

  it('chooses the format from the Content-Type, else the one asked for', () => {
    assert.equal(detectFormat('application/json; charset=utf-8', 'xml'), 'json');
    assert.equal(detectFormat('text/xml', 'json'), 'xml');
    assert.equal(detectFormat('application/x-yaml', 'json'), 'yaml');
    assert.equal(detectFormat('text/csv', 'json'), 'csv');
    assert.equal(detectFormat('application/octet-stream', 'yaml'), 'yaml');
    assert.equal(detectFormat(undefined, 'csv'), 'csv');
  });
});

describe('Intellimeter records to readings', () => {
  const options = { metric: 'register', unit: 'kWh', zone: 'UTC', ambiguity: 'series' as const, now: 0 };

  it('accepts records wrapped in an object or grouped by meter', () => {
    assert.equal(recordsFrom({ data: DOC_RECORDS }).records.length, 2);
    const grouped = recordsFrom({ meter1: [{ TimeStamping: '2019-10-30 13:15:00', value: 1 }], meter2: { TimeStamping: '2019-10-30 13:15:00', value: 2 } });
    assert.deepEqual(readingsFromRecords(grouped.records, options).readings.map((r) => [r.meterId, r.value]), [['meter1', 1], ['meter2', 2]]);
    assert.deepEqual(recordsFrom({}).records, []);
    assert.deepEqual(recordsFrom(null).records, []);
    assert.match(recordsFrom('oops').problems[0], /not a list of readings/);
    assert.match(recordsFrom([1]).problems[0], /item 1 is not a record/);
  });

  it('reads wide records (one column per meter) and split date and time columns', () => {
    const { readings, problems } = readingsFromRecords([{ Date: '2019-10-30', Time: '13:15', meter1: '1.5', meter2: '' }], options);
    assert.deepEqual(problems, []);
    assert.deepEqual(readings.map((r) => [r.meterId, r.start, r.value]), [['meter1', '2019-10-30T13:15:00+00:00', 1.5], ['meter2', '2019-10-30T13:15:00+00:00', null]]);
  });

  it('reads records with other spellings of the field names', () => {
    const { readings } = readingsFromRecords([{ meter_param: 'a', timestamping: '2019-10-30 13:15:00', Value: '2' }, { Meter: 'b', Timestamp: '2019-10-30 13:15:00', kWh: 3 }], options);
    assert.deepEqual(readings.map((r) => [r.meterId, r.value]), [['a', 2], ['b', 3]]);
  });

  it('names every record it cannot use', () => {
    const { readings, problems } = readingsFromRecords([{ MeterParam: 'a', value: 1 }, { MeterParam: '', TimeStamping: '2019-10-30 13:15:00', value: 1 }, { TimeStamping: '2019-10-30 13:15:00' }, { MeterParam: 'b', TimeStamping: '2019-02-30 00:00:00', value: 1 }], options);
    assert.equal(readings.length, 0);
    assert.deepEqual(problems, [
      'record 1 has no TimeStamping: {"MeterParam":"a","value":1}',
      'record 2 has an empty meter name',
      'record 3 has a time stamp but no meter and value: {"TimeStamping":"2019-10-30 13:15:00"}',
      'record 4 (b): "2019-02-30 00:00:00" is not a time stamp (YYYY-MM-DD HH:MM:SS)',
    ]);
  });
});
