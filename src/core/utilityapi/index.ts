export * from './collection';
export * from './errors';
export * from './intervals';
export * from './request';
export * from './collection-poller';
export * from './types';
