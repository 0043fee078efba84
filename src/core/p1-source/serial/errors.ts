import { SourceError } from '../source';

/**
 * Rewrites what the operating system says about a port into a sentence that tells the user what
 * to do. Every one of these is retried: ports come back after an unplug, permissions get fixed,
 * and "Cannot lock port" usually means the previous handle is still being released.
 */
export function describeSerialError(error: unknown, path: string): SourceError {
  const text = error instanceof Error ? error.message : String(error);
  if (/cannot lock port|resource temporarily unavailable|port is locked|EBUSY/i.test(text)) {
    return new SourceError(`Serial port ${path} is in use by another program or a previous connection is still closing; retrying.`, 'port busy', { cause: error });
  }
  if (/permission denied|EACCES|access denied/i.test(text)) {
    return new SourceError(
      `No permission to open serial port ${path}. Add the user running Node-RED to the "dialout" group (sudo usermod -aG dialout <user>) and restart Node-RED.`,
      'no permission',
      { cause: error },
    );
  }
  if (/no such file|ENOENT|does not exist|file not found|cannot find/i.test(text)) {
    return new SourceError(`Serial port ${path} does not exist. Check that the P1 cable is plugged in and the port path is right (e.g. /dev/ttyUSB0).`, 'no port', { cause: error });
  }
  if ((error as { disconnected?: unknown })?.disconnected === true || /disconnect|unplug|EIO|input\/output error/i.test(text)) {
    return new SourceError(`Serial port ${path} was disconnected (${text}); reopening when it returns.`, 'unplugged', { cause: error });
  }
  return new SourceError(`Serial port ${path} failed: ${text}`, 'port error', { cause: error });
}
