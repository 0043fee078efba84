export * from './api';
export * from './delivery';
export * from './errors';
export * from './v2-reading';
export * from './prepare';
export * from './queue';
export * from './status';
export * from './telegram';
