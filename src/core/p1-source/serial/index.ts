export * from './settings';
export * from './errors';
export * from './serial-source';
export * from './pool';
export * from './list';
export * from './binding';
