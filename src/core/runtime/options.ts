/**
 * The one place where node and config-node settings are checked. Every value comes from the
 * editor as a string (or from an older flow as anything); a bad one is a `CONFIG` error naming
 * the field and what to enter, raised at deploy before any request or connection is made.
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG';

  constructor(
    message: string,
    /** The setting at fault, as the editor labels it. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}

export interface NumberOption {
  /** The field's label in the editor, e.g. "Timeout". */
  field: string;
  min: number;
  max: number;
  /** Used when the field is empty. */
  default: number;
  /** Whole numbers only (counts, sizes). */
  integer?: boolean;
  /** Shown in the message, e.g. "seconds". */
  unit?: string;
}

/** A number within bounds; an empty field gives the default. */
export function readNumber(value: unknown, option: NumberOption): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return option.default;
  const number = typeof value === 'number' ? value : Number(String(value).trim());
  const unit = option.unit ? ` ${option.unit}` : '';
  const wanted = `${option.integer ? 'a whole number' : 'a number'} from ${option.min} to ${option.max}${unit}`;
  if (!Number.isFinite(number) || number < option.min || number > option.max || (option.integer && !Number.isInteger(number))) {
    throw new ConfigError(`${option.field} is "${String(value)}": enter ${wanted} (default ${option.default}).`, option.field);
  }
  return number;
}

/** One of a fixed set of values; an empty field gives the default. */
export function readChoice<T extends string>(value: unknown, field: string, choices: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  if ((choices as readonly unknown[]).includes(value)) return value as T;
  throw new ConfigError(`${field} is "${String(value)}": choose one of ${choices.join(', ')}.`, field);
}

/**
 * A service's base URL: absolute http(s), without user name, password, query or fragment (a
 * query would end up in the middle of every path, a fragment would cut the path off). Trailing
 * slashes are removed so paths can be appended.
 */
export function readBaseUrl(value: unknown, field: string, example = 'https://host[:port]/path'): string {
  const text = typeof value === 'string' ? value.trim() : '';
  if (!text) throw new ConfigError(`${field} is empty: enter the server address, e.g. ${example}.`, field);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${field} "${text}" is not a URL: enter it as ${example}.`, field);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${field} uses "${url.protocol}": only http:// and https:// are supported; enter it as ${example}.`, field);
  }
  if (url.username || url.password) {
    throw new ConfigError(`${field} contains a user name or password: remove them from the URL and enter credentials in the credential fields.`, field);
  }
  if (url.search || text.includes('?')) {
    throw new ConfigError(`${field} contains a query ("${url.search || '?'}"): remove everything from "?" on; the nodes add their own parameters.`, field);
  }
  if (url.hash || text.includes('#')) {
    throw new ConfigError(`${field} contains a fragment ("${url.hash || '#'}"): remove everything from "#" on.`, field);
  }
  return text.replace(/\/+$/, '');
}
