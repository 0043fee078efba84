/** Readings as points for node-red-contrib-influxdb; no Node-RED dependency. */
export * from './points';
