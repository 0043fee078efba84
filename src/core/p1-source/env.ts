/**
 * Expands `${NAME}` references in a path, so one flow works on every machine (the demo uses
 * `${ENERGY_EXPORT_DEMO_DIR}/data/p1-recorded.txt`). Node-RED itself only replaces a property
 * whose whole value is `${NAME}`, not a reference inside a longer string.
 */
export function expandEnvReferences(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_whole, name: string) => {
    const value = lookup(name);
    if (value === undefined || value === '') {
      throw new Error(`Environment variable ${name} used in "${text}" is not set. Set it before starting Node-RED, or write the full path.`);
    }
    return value;
  });
}
