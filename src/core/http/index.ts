export * from './auth';
export * from './client';
export * from './errors';
export * from './limiter';
export * from './pagination';
