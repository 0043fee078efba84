export * from './collection';
export * from './errors';
export * from './intervals';
export * from './request';
export * from './status';
export * from './types';
