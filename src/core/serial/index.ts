export * from './settings';
export * from './errors';
export * from './pool';
export * from './list';
