/**
 * The part of node-postgres (`pg`, a dev dependency for the PostgreSQL example) that tests and
 * benchmarks use, typed here because the package ships no types and @types/pg is not installed.
 */
export interface PgResult<R> {
  rows: R[];
  rowCount: number | null;
}

export interface PgQueryable {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResult<R>>;
}

export interface PgClient extends PgQueryable {
  connect(): Promise<void>;
  end(): Promise<void>;
}

export interface PgPool extends PgQueryable {
  end(): Promise<void>;
}

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  max?: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const pg = require('pg') as { Client: new (connection: PgConnection) => PgClient; Pool: new (connection: PgConnection) => PgPool };
