export * from './auth';
export * from './client';
export * from './clock';
export * from './errors';
export * from './limiter';
export * from './pagination';
export * from './retry';
