export * from './api';
export * from './data-controller';
export * from './normalize';
export * from './operation';
export * from './poller';
export * from './session';
