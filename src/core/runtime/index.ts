/** The runtime layer every core module and adapter shares: time, retry, status and options. */
export * from './backoff';
export * from './clock';
export * from './options';
export * from './status';
