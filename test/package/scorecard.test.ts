/**
 * An offline mirror of the Flow Library scorecard (`node-red-dev validate`): every check that
 * can be decided from the repository alone. See ../shared/docs/flow-library-scorecard.md.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import semver from 'semver';
import { repoRoot } from '../../testing/runtime';

interface PackageJson {
  name: string;
  license?: string;
  repository?: { url?: string };
  bugs?: { url?: string };
  keywords?: string[];
  engines?: { node?: string };
  'node-red'?: { version?: string; nodes?: Record<string, string> };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const nodeEntries = Object.entries(pkg['node-red']?.nodes ?? {});

interface RegisteredType {
  type: string;
  category: string | undefined;
  file: string;
}

/** Reads every editor file the way the scorecard does: only text/javascript script blocks, literal type names. */
function registeredTypes(): RegisteredType[] {
  const found: RegisteredType[] = [];
  for (const [, jsFile] of nodeEntries) {
    const htmlFile = path.join(repoRoot, jsFile.replace(/\.js$/, '.html'));
    const html = fs.readFileSync(htmlFile, 'utf8');
    const blocks = [...html.matchAll(/<script\s+type=["']text\/javascript["'][^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    for (const block of blocks) {
      for (const match of block.matchAll(/registerType\(\s*(['"])([^'"]+)\1\s*,\s*\{/g)) {
        const rest = block.slice(match.index! + match[0].length);
        const category = /category\s*:\s*(['"])([^'"]+)\1/.exec(rest.slice(0, 400))?.[2];
        found.push({ type: match[2], category, file: htmlFile });
      }
    }
  }
  return found;
}

function exampleFiles(dir = path.join(repoRoot, 'examples')): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return exampleFiles(full);
    return entry.name.endsWith('.json') ? [full] : [];
  });
}

describe('Flow Library scorecard (offline mirror)', () => {
  it('P01 has a licence and a LICENSE file', () => {
    assert.ok(pkg.license, 'license missing');
    assert.ok(fs.existsSync(path.join(repoRoot, 'LICENSE')));
  });

  it('P03 has repository and bugs URLs', () => {
    assert.ok(pkg.repository?.url);
    assert.ok(pkg.bugs?.url);
  });

  it('P04 an unscoped name must start with node-red-contrib- (decision recorded in the README)', () => {
    if (!pkg.name.startsWith('@')) {
      assert.match(pkg.name, /^node-red-contrib-/);
      assert.match(fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8'), /scoped name/i);
    }
  });

  it('P05 has the node-red keyword', () => {
    assert.ok(pkg.keywords?.includes('node-red'));
  });

  it('P06 node-red.version admits Node-RED 4.1 (tested) and 5.0 (latest)', () => {
    const range = pkg['node-red']?.version;
    assert.ok(range, 'node-red.version missing');
    assert.ok(semver.satisfies('4.1.15', range));
    assert.ok(semver.satisfies('5.0.7', range));
    assert.ok(!semver.satisfies('3.1.0', range), 'must not claim versions that are not tested');
    const installed = JSON.parse(fs.readFileSync(require.resolve('node-red/package.json', { paths: [repoRoot] }), 'utf8')).version as string;
    assert.ok(semver.satisfies(installed, range), `tested Node-RED ${installed} must satisfy ${range}`);
  });

  it('P07 engines.node admits the Node.js this runs on and Node-RED 5’s floor (22.9.0)', () => {
    const range = pkg.engines?.node;
    assert.ok(range);
    assert.ok(semver.satisfies(process.version, range));
    assert.ok(semver.satisfies('22.9.0', range));
    assert.ok(semver.satisfies('20.0.0', range));
  });

  it('every node-red.nodes entry has its .html beside it, parseable, with a literal registerType', () => {
    assert.ok(nodeEntries.length > 0);
    for (const [type, jsFile] of nodeEntries) {
      const htmlFile = path.join(repoRoot, jsFile.replace(/\.js$/, '.html'));
      assert.ok(fs.existsSync(htmlFile), `${htmlFile} is missing`);
      const html = fs.readFileSync(htmlFile, 'utf8');
      const blocks = [...html.matchAll(/<script\s+type=["']text\/javascript["'][^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
      assert.ok(blocks.length > 0, `${type}: no type="text/javascript" block`);
      for (const block of blocks) assert.doesNotThrow(() => new vm.Script(block), `${type}: editor script does not parse`);
      assert.ok(registeredTypes().some((t) => t.type === type && t.file === htmlFile), `${type}: registerType('${type}', {…}) not found in ${htmlFile}`);
      assert.ok(fs.existsSync(path.join(repoRoot, 'src', `${type}.ts`)), `${type}: no TypeScript source`);
      assert.ok(fs.existsSync(path.join(repoRoot, 'nodes', 'locales', 'en-US', `${type}.json`)), `${type}: no en-US message catalog`);
    }
  });

  it('N01 type names are unique and prefixed (a plain "dsmr" type already exists in the library)', () => {
    const types = registeredTypes().map((t) => t.type);
    assert.equal(new Set(types).size, types.length);
    for (const type of types) assert.match(type, /^(dsmr-|metry-|utilityapi-|intellimeter-|energy-)/);
  });

  it('N02 every non-config node type appears in an example, and every example is a flow array', () => {
    const files = exampleFiles();
    assert.ok(files.length > 0, 'no examples');
    const used = new Set<string>();
    for (const file of files) {
      const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
      assert.ok(Array.isArray(flow), `${file} is not a JSON array`);
      for (const node of flow as Array<{ type?: string }>) if (node.type) used.add(node.type);
    }
    for (const t of registeredTypes().filter((r) => r.category !== 'config')) {
      assert.ok(used.has(t.type), `${t.type} appears in no example`);
    }
  });

  it('examples carry no credentials', () => {
    for (const file of exampleFiles()) {
      const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
      for (const node of flow) {
        assert.ok(!node.credentials || Object.values(node.credentials as object).every((v) => v === '' || v === undefined), `${file}: ${node.id} has credentials`);
      }
    }
  });

  it('D01 at most 6 runtime dependencies, and none of node-red or the test helper', () => {
    const deps = Object.keys(pkg.dependencies ?? {});
    assert.ok(deps.length <= 6, `${deps.length} dependencies`);
    assert.ok(!deps.includes('node-red'));
    assert.ok(!deps.includes('node-red-node-test-helper'));
  });

  it('D02 no agent-base below 6 in the production tree', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean }> };
    for (const [location, info] of Object.entries(lock.packages)) {
      if (location.endsWith('node_modules/agent-base') && !info.dev) {
        assert.ok(semver.gte(info.version ?? '0.0.0', '6.0.0'), `agent-base ${info.version} at ${location}`);
      }
    }
  });

  it('D03 dependency ranges admit the installed (latest locked) version', () => {
    for (const [name, range] of Object.entries(pkg.dependencies ?? {})) {
      const installed = JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [repoRoot] }), 'utf8')).version as string;
      assert.ok(semver.satisfies(installed, range), `${name}@${installed} outside ${range}`);
      assert.ok(!/^[~=]|^\d/.test(range), `${name}: use a caret range so new minors are admitted`);
    }
  });
});
