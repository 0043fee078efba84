/** Home Assistant over MQTT discovery: sensors, configs, states; no Node-RED dependency. */
export * from './sensors';
export * from './discovery';
export * from './publisher';
export * from './options';
