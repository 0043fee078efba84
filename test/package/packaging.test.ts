import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../testing/runtime';

describe('the published package', () => {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as Array<{ files: Array<{ path: string }> }>;
  const files = packed[0].files.map((f) => f.path);
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };

  it('ships every node file, its editor file, catalogs, icons, the shared editor script and the examples', () => {
    for (const jsFile of Object.values(pkg['node-red'].nodes)) {
      assert.ok(files.includes(jsFile), `${jsFile} not packed`);
      assert.ok(files.includes(jsFile.replace(/\.js$/, '.html')), `${jsFile} html not packed`);
    }
    assert.ok(files.some((f) => f.startsWith('nodes/locales/en-US/')));
    assert.ok(files.some((f) => f.startsWith('nodes/icons/') && f.endsWith('.svg')));
    assert.ok(files.some((f) => f.startsWith('examples/')));
    // Every editor file loads the shared helpers from resources/ (Node-RED serves that folder).
    assert.ok(files.includes('resources/editor.js'), 'resources/editor.js not packed');
    for (const jsFile of Object.values(pkg['node-red'].nodes)) {
      const html = fs.readFileSync(path.join(repoRoot, jsFile.replace(/\.js$/, '.html')), 'utf8');
      assert.ok(html.includes('<script src="resources/node-red-contrib-energy-export/editor.js"></script>'), `${jsFile}: editor file does not load the shared editor script`);
    }
    assert.ok(files.includes('LICENSE') && files.includes('README.md'));
  });

  it('does not ship tests, fixtures, TypeScript sources, benchmarks or the demo', () => {
    for (const file of files) {
      assert.ok(!/^(test|src|bench|demo|scripts|\.build|\.ci)\//.test(file), `${file} must not be packed`);
      assert.ok(!file.endsWith('.ts') || file.endsWith('.d.ts'), `${file} must not be packed`);
    }
  });

  it('exposes the DSMR core as the subpath node-red-contrib-energy-export/dsmr', () => {
    const exportsField = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, { default: string }> }).exports;
    assert.ok(files.includes(exportsField['./dsmr'].default.replace(/^\.\//, '')));
    // Self-reference resolves through the exports map exactly as a user's require would.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const dsmr = require(require.resolve('node-red-contrib-energy-export/dsmr', { paths: [repoRoot] })) as { parseTelegram?: unknown; TelegramFramer?: unknown };
    assert.equal(typeof dsmr.parseTelegram, 'function');
    assert.equal(typeof dsmr.TelegramFramer, 'function');
  });
});
