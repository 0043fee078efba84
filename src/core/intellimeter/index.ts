export * from './api';
export * from './formats';
export * from './normalize';
export * from './operation';
export * from './poller';
export * from './session';
export * from './zone';
