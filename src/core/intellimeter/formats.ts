/**
 * Parsers for the bodies Intellimeter sends: JSON, XML (dicttoxml style: `<item type="dict">`,
 * `type="int|float|str|bool"` attributes), YAML (PyYAML dumps of flat records, block or flow
 * style) and CSV (the default of `/file`). They are deliberately small: they cover the shapes
 * the API documents plus their obvious variants, and fail with a clear error on anything else
 * instead of guessing.
 */
import { ServiceError } from '../http/errors';

export type BodyFormat = 'json' | 'xml' | 'yaml' | 'csv';

export class FormatError extends Error {}

function invalid(format: string, detail: string): ServiceError {
  return new ServiceError(`Intellimeter sent ${format} the node could not read (${detail}). Try another response type; if it persists, report the response to the node's authors.`, {
    code: 'INVALID_RESPONSE',
    service: 'intellimeter',
  });
}

/** Parses a body in the given format into plain JSON-like values. */
export function parseBody(text: string, format: BodyFormat): unknown {
  const body = text.replace(/^\uFEFF/, '');
  try {
    switch (format) {
      case 'json':
        return body.trim() === '' ? null : JSON.parse(body);
      case 'xml':
        return parseXml(body);
      case 'yaml':
        return parseYaml(body);
      case 'csv':
        return parseCsv(body);
    }
  } catch (error) {
    throw invalid(format.toUpperCase(), error instanceof Error ? error.message : String(error));
  }
}

/**
 * The format a response is really in: the Content-Type wins when it names one (a server that
 * ignored `responseType` still gets parsed right), otherwise the format that was asked for.
 */
export function detectFormat(contentType: string | undefined, requested: BodyFormat): BodyFormat {
  const type = (contentType ?? '').toLowerCase();
  if (/json/.test(type)) return 'json';
  if (/xml/.test(type)) return 'xml';
  if (/yaml|yml/.test(type)) return 'yaml';
  if (/csv/.test(type)) return 'csv';
  return requested;
}

// ---------------------------------------------------------------- XML

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? whole;
  });
}

class XmlReader {
  private position = 0;
  constructor(private readonly source: string) {}

  document(): XmlElement {
    this.skipMisc();
    const root = this.element();
    this.skipMisc();
    if (this.position < this.source.length) throw new FormatError('content after the root element');
    return root;
  }

  /** Skips whitespace, the XML declaration, comments, processing instructions and DOCTYPE. */
  private skipMisc(): void {
    for (;;) {
      while (this.position < this.source.length && /\s/.test(this.source[this.position])) this.position += 1;
      if (this.source.startsWith('<?', this.position)) this.skipPast('?>');
      else if (this.source.startsWith('<!--', this.position)) this.skipPast('-->');
      else if (this.source.startsWith('<!DOCTYPE', this.position)) this.skipPast('>');
      else return;
    }
  }

  private skipPast(marker: string): void {
    const end = this.source.indexOf(marker, this.position);
    if (end < 0) throw new FormatError(`unterminated ${marker === '-->' ? 'comment' : 'declaration'}`);
    this.position = end + marker.length;
  }

  private element(): XmlElement {
    const open = /^<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(this.source.slice(this.position, this.position + 4096));
    if (!open) throw new FormatError(`expected an element at character ${this.position}`);
    this.position += open[0].length;
    const attributes: Record<string, string> = {};
    for (const match of open[2].matchAll(/([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      attributes[match[1]] = decodeEntities(match[2] ?? match[3] ?? '');
    }
    const element: XmlElement = { name: open[1], attributes, children: [], text: '' };
    if (open[3] === '/') return element;
    const closing = `</${element.name}`;
    for (;;) {
      if (this.position >= this.source.length) throw new FormatError(`<${element.name}> is not closed`);
      if (this.source.startsWith(closing, this.position)) {
        const end = this.source.indexOf('>', this.position);
        if (end < 0) throw new FormatError(`<${element.name}> is not closed`);
        this.position = end + 1;
        return element;
      }
      if (this.source.startsWith('</', this.position)) throw new FormatError(`<${element.name}> is closed by another tag`);
      if (this.source.startsWith('<![CDATA[', this.position)) {
        const end = this.source.indexOf(']]>', this.position);
        if (end < 0) throw new FormatError('unterminated CDATA');
        element.text += this.source.slice(this.position + 9, end);
        this.position = end + 3;
      } else if (this.source.startsWith('<!--', this.position) || this.source.startsWith('<?', this.position)) {
        this.skipPast(this.source.startsWith('<!--', this.position) ? '-->' : '?>');
      } else if (this.source[this.position] === '<') {
        element.children.push(this.element());
      } else {
        const next = this.source.indexOf('<', this.position);
        const end = next < 0 ? this.source.length : next;
        element.text += decodeEntities(this.source.slice(this.position, end));
        this.position = end;
      }
    }
  }
}

function xmlValue(element: XmlElement): unknown {
  const type = (element.attributes.type ?? '').toLowerCase();
  const text = element.text;
  switch (type) {
    case 'int':
    case 'float':
    case 'number':
    case 'decimal': {
      if (text.trim() === '') return null;
      const number = Number(text.trim());
      return Number.isNaN(number) ? text.trim() : number;
    }
    case 'bool':
      return /^\s*true\s*$/i.test(text);
    case 'null':
    case 'none':
      return null;
    case 'str':
      return text;
    case 'list':
      return element.children.map(xmlValue);
    case 'dict':
      return xmlObject(element.children);
  }
  if (element.children.length === 0) return text.trim();
  if (element.children.every((child) => child.name === 'item')) return element.children.map(xmlValue);
  return xmlObject(element.children);
}

function xmlObject(children: XmlElement[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  const repeated = new Set<string>();
  for (const child of children) {
    const value = xmlValue(child);
    if (!(child.name in object)) object[child.name] = value;
    else if (repeated.has(child.name)) (object[child.name] as unknown[]).push(value);
    else {
      // A repeated tag is a list (dicttoxml writes lists that way when item names are kept).
      object[child.name] = [object[child.name], value];
      repeated.add(child.name);
    }
  }
  return object;
}

/** XML as Intellimeter writes it, to plain values; the root element's name is dropped. */
export function parseXml(text: string): unknown {
  if (text.trim() === '') return null;
  const root = new XmlReader(text).document();
  if (!root.attributes.type && root.children.length === 0) return root.text.trim() === '' ? {} : root.text.trim();
  return xmlValue(root);
}

// ---------------------------------------------------------------- YAML

interface YamlLine {
  indent: number;
  text: string;
  number: number;
}

/** Removes a trailing comment that is outside quotes. */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote) {
      if (c === quote) {
        if (quote === "'" && text[i + 1] === "'") i += 1;
        else quote = undefined;
      } else if (c === '\\' && quote === '"') i += 1;
    } else if (c === "'" || c === '"') {
      if (i === 0 || /[\s,[{:]/.test(text[i - 1])) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text.trimEnd();
}

function unquoteDouble(body: string): string {
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_whole, escape: string) => {
    switch (escape[0]) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '0':
        return '\0';
      case 'x':
      case 'u':
      case 'U':
        return String.fromCodePoint(parseInt(escape.slice(1), 16));
      default:
        return escape;
    }
  });
}

/** A plain or quoted YAML scalar, resolved the way PyYAML (YAML 1.1) reads it. */
function yamlScalar(raw: string): unknown {
  let text = raw.trim();
  let tag: string | undefined;
  const tagged = /^(!\S*)\s+(.*)$/.exec(text);
  if (tagged) {
    tag = tagged[1];
    text = tagged[2].trim();
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new FormatError(`unterminated quoted string ${text.slice(0, 30)}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new FormatError(`unterminated quoted string ${text.slice(0, 30)}`);
    return unquoteDouble(text.slice(1, -1));
  }
  if (text.startsWith('|') || text.startsWith('>')) throw new FormatError('block scalars are not supported');
  if (text.startsWith('&') || text.startsWith('*')) throw new FormatError('anchors and aliases are not supported');
  if (tag && /str$/.test(tag)) return text;
  if (/^(~|null|Null|NULL)?$/.test(text)) return null;
  if (/^(true|True|TRUE|yes|Yes|YES|on|On|ON)$/.test(text)) return true;
  if (/^(false|False|FALSE|no|No|NO|off|Off|OFF)$/.test(text)) return false;
  if (/^[-+]?(0|[1-9][\d_]*)$/.test(text)) return Number(text.replace(/_/g, ''));
  if (/^[-+]?(\d[\d_]*)?\.\d*([eE][-+]?\d+)?$/.test(text) || /^[-+]?\d[\d_]*(\.\d*)?[eE][-+]?\d+$/.test(text)) return Number(text.replace(/_/g, ''));
  if (/^[-+]?\.(inf|Inf|INF)$/.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (/^\.(nan|NaN|NAN)$/.test(text)) return NaN;
  return text;
}

/** Splits a flow collection's body on top-level commas. */
function splitFlow(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let current = '';
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i];
    if (quote) {
      current += c;
      if (c === quote) {
        if (quote === "'" && body[i + 1] === "'") current += body[++i];
        else quote = undefined;
      } else if (c === '\\' && quote === '"') current += body[++i] ?? '';
      continue;
    }
    if ((c === "'" || c === '"') && current.trim() === '') quote = c;
    else if (c === '[' || c === '{') depth += 1;
    else if (c === ']' || c === '}') depth -= 1;
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  if (current.trim() !== '') parts.push(current);
  return parts.map((part) => part.trim());
}

/** Finds `key: value` in a line; the colon must be followed by a space or end the line. */
function splitKey(text: string): [string, string] | undefined {
  const match = /^('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^'"\s#[\]{},][^#]*?)\s*:(?:\s+(.*))?$/.exec(text);
  if (!match) return undefined;
  return [String(yamlScalar(match[1])), match[2] ?? ''];
}

function yamlFlow(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    if (!trimmed.endsWith('}')) throw new FormatError(`unterminated flow mapping ${trimmed.slice(0, 30)}`);
    const object: Record<string, unknown> = {};
    for (const part of splitFlow(trimmed.slice(1, -1))) {
      const pair = splitKey(part);
      if (!pair) throw new FormatError(`"${part.slice(0, 30)}" is not a key: value pair`);
      object[pair[0]] = yamlFlow(pair[1]);
    }
    return object;
  }
  if (trimmed.startsWith('[')) {
    if (!trimmed.endsWith(']')) throw new FormatError(`unterminated flow sequence ${trimmed.slice(0, 30)}`);
    return splitFlow(trimmed.slice(1, -1)).map(yamlFlow);
  }
  return yamlScalar(trimmed);
}

function flowIsOpen(text: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i += 1;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '[' || c === '{') depth += 1;
    else if (c === ']' || c === '}') depth -= 1;
  }
  return depth > 0;
}

class YamlReader {
  private index = 0;
  constructor(private readonly lines: YamlLine[]) {}

  document(): unknown {
    if (this.lines.length === 0) return null;
    const value = this.node(this.lines[0].indent);
    if (this.index < this.lines.length) throw new FormatError(`unexpected indentation at line ${this.lines[this.index].number}`);
    return value;
  }

  /** A value that starts at the current line, at exactly `indent`. */
  private node(indent: number): unknown {
    const line = this.lines[this.index];
    if (/^-(\s|$)/.test(line.text)) return this.sequence(indent);
    if (/^[[{]/.test(line.text)) {
      this.index += 1;
      return yamlFlow(this.joinFlow(line.text));
    }
    if (splitKey(line.text)) return this.mapping(indent);
    this.index += 1;
    return yamlScalar(line.text);
  }

  /** PyYAML wraps long flow collections over several lines; put them back together. */
  private joinFlow(first: string): string {
    let text = first;
    while (flowIsOpen(text) && this.index < this.lines.length) {
      text += ` ${this.lines[this.index].text}`;
      this.index += 1;
    }
    return text;
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    while (this.index < this.lines.length) {
      const line = this.lines[this.index];
      if (line.indent !== indent || !/^-(\s|$)/.test(line.text)) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.index += 1;
        const next = this.lines[this.index];
        items.push(next && next.indent > indent ? this.node(next.indent) : null);
        continue;
      }
      // "- key: value" opens a mapping whose keys sit at the column after "- ".
      const column = indent + (line.text.length - rest.length);
      this.lines[this.index] = { ...line, indent: column, text: rest };
      items.push(this.node(column));
    }
    return items;
  }

  private mapping(indent: number): Record<string, unknown> {
    const object: Record<string, unknown> = {};
    while (this.index < this.lines.length) {
      const line = this.lines[this.index];
      if (line.indent !== indent) {
        if (line.indent > indent) throw new FormatError(`unexpected indentation at line ${line.number}`);
        break;
      }
      const pair = splitKey(line.text);
      if (!pair) throw new FormatError(`line ${line.number} is not a key: value pair`);
      this.index += 1;
      const [key, rest] = pair;
      if (rest.trim() !== '') {
        object[key] = /^[[{]/.test(rest.trim()) ? yamlFlow(this.joinFlow(rest)) : yamlScalar(rest);
        continue;
      }
      const next = this.lines[this.index];
      if (next && (next.indent > indent || (next.indent === indent && /^-(\s|$)/.test(next.text)))) object[key] = this.node(next.indent);
      else object[key] = null;
    }
    return object;
  }
}

/** The YAML subset PyYAML produces for flat records: block or flow collections of scalars. */
export function parseYaml(text: string): unknown {
  const lines: YamlLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.startsWith('%')) return;
    if (/^(---|\.\.\.)(\s|$)/.test(raw)) {
      // A document marker may carry the (flow or scalar) document itself: "--- []".
      const after = stripComment(raw.replace(/^(---|\.\.\.)\s*/, ''));
      if (after) lines.push({ indent: 0, text: after, number: i + 1 });
      return;
    }
    if (/\t/.test(/^\s*/.exec(raw)![0])) throw new FormatError(`tab indentation at line ${i + 1}`);
    const content = stripComment(raw.trim());
    if (content === '') return;
    lines.push({ indent: raw.length - raw.trimStart().length, text: content, number: i + 1 });
  });
  return new YamlReader(lines).document();
}

// ---------------------------------------------------------------- CSV

function splitCsvRows(text: string, delimiter: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i += 1;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (quoted) throw new FormatError('a quoted field is not closed');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((cells) => cells.some((cell) => cell.trim() !== ''));
}

function guessDelimiter(firstLine: string): string {
  const counts = [',', ';', '\t'].map((d) => [d, firstLine.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : ',';
}

const TIMESTAMP_CELL = /^\d{4}[-/]\d{1,2}[-/]\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?/;

/**
 * CSV with a header row, to one record per row keyed by the header. The `/file` layout is not
 * documented, so a file without a header row is read by position: the cell that looks like a
 * time stamp, the last number after it as the value and the first other text as the meter.
 */
export function parseCsv(text: string): Record<string, string>[] {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const rows = splitCsvRows(text, guessDelimiter(firstLine));
  if (rows.length === 0) return [];
  const first = rows[0].map((cell) => cell.trim());
  const headerless = first.some((cell) => TIMESTAMP_CELL.test(cell));
  let header: string[];
  let body: string[][];
  if (headerless) {
    const timeColumn = first.findIndex((cell) => TIMESTAMP_CELL.test(cell));
    const numeric = first.map((cell, i) => i !== timeColumn && cell !== '' && Number.isFinite(Number(cell)));
    const valueColumn = numeric.lastIndexOf(true);
    const meterColumn = first.findIndex((cell, i) => i !== timeColumn && i !== valueColumn && cell !== '');
    if (valueColumn < 0) throw new FormatError('a CSV row without a header and without a number');
    header = first.map((_, i) => (i === timeColumn ? 'TimeStamping' : i === valueColumn ? 'value' : i === meterColumn ? 'MeterParam' : `column${i + 1}`));
    body = rows;
  } else {
    header = first;
    body = rows.slice(1);
  }
  return body.map((cells) => {
    const record: Record<string, string> = {};
    header.forEach((name, i) => {
      if (name !== '') record[name] = (cells[i] ?? '').trim();
    });
    return record;
  });
}
