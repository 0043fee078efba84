/** The port list behind the editor's port picker. */
export interface PortInfoLike {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  pnpId?: string;
  vendorId?: string;
  productId?: string;
}

export interface PortListing {
  ports: Array<{ path: string; label: string }>;
  /** Why the list is empty or incomplete; the editor shows it under the field. */
  message?: string;
}

/**
 * Never fails: a machine without udev (many Docker images) or without the native binding still
 * gets an empty list and a hint to type the path, rather than a broken dialog.
 */
export async function listSerialPorts(list: () => Promise<PortInfoLike[]>): Promise<PortListing> {
  try {
    const found = await list();
    const ports = found
      .filter((port) => typeof port.path === 'string' && port.path)
      .map((port) => ({ path: port.path, label: [port.path, port.manufacturer, port.serialNumber].filter(Boolean).join(' · ') }))
      .sort((a, b) => a.path.localeCompare(b.path));
    return ports.length ? { ports } : { ports, message: 'No serial ports found. Plug in the P1 cable, or type the path (e.g. /dev/ttyUSB0).' };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/udevadm/.test(text)) {
      return { ports: [], message: 'Serial ports cannot be listed here because udevadm is not installed (common in Docker). Type the path, e.g. /dev/ttyUSB0 or /dev/serial/by-id/….' };
    }
    return { ports: [], message: `Serial ports could not be listed (${text}). Type the path, e.g. /dev/ttyUSB0.` };
  }
}
