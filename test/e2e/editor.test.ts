/**
 * The editor in a real browser: Debian's Chromium driven by playwright-core, headless, against
 * Node-RED started by `npm start`'s own script. Checks every node type is in the palette, imports
 * and deploys every example, opens every node's edit dialog and help, and fails on any browser
 * console error. Screenshots for the README go to docs/images/.
 *
 * CI installs Chromium (.ci/run); on a developer machine without it the suite is skipped with
 * the command that installs it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, Browser, Page } from 'playwright-core';
import { repoRoot } from '../../testing/runtime';
import { DemoProcess, startDemo } from '../../testing/demo-process';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Screenshots refresh the README's images only when asked (UPDATE_SCREENSHOTS=1), so a test run
// leaves the working tree clean.
const screenshotDir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(repoRoot, 'docs', 'images') : path.join(repoRoot, 'test-results', 'screenshots');
fs.mkdirSync(screenshotDir, { recursive: true });
const haveChromium = fs.existsSync(CHROMIUM);
const skip = !haveChromium && !process.env.CI ? `Chromium not found at ${CHROMIUM}: apt-get install chromium` : false;

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
const nodeTypes = Object.keys(pkg['node-red'].nodes);

function exampleFiles(dir = path.join(repoRoot, 'examples')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return exampleFiles(full);
    return entry.name.endsWith('.json') ? [full] : [];
  });
}

// Node-RED's editor globals, as far as this test touches them.
declare const RED: {
  nodes: {
    getType(type: string): unknown;
    eachNode(cb: (node: { id: string; type: string }) => void): void;
    eachConfig(cb: (node: { id: string; type: string }) => void): void;
    node(id: string): unknown;
    getNodeHelp(type: string): string | undefined;
    dirty(value: boolean): void;
  };
  view: { importNodes(nodes: unknown[], options?: Record<string, unknown>): void };
  editor: { edit(node: unknown): void; editConfig(name: string, type: string, id: string): void };
  tray: { close(): void };
  sidebar: { show(id: string): void; help: { show(type: string): void } };
  workspaces: { show(id: string): void };
};

describe('the editor in a real browser', { skip }, () => {
  let demo: DemoProcess;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const sharedScriptAnswers: number[] = [];

  before(async () => {
    demo = await startDemo();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // This machine has no internet; the palette manager's public catalogue is answered locally
    // with an empty one so its absence is not mistaken for an error of ours.
    await page.route(/catalogue\.nodered\.org\/catalogue\.json/, (route) =>
      route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ name: 'offline', updated_at: new Date().toISOString(), modules: [] }) }),
    );
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => consoleErrors.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
    page.on('response', (response) => {
      if (response.url().endsWith('/resources/node-red-contrib-energy-export/editor.js')) sharedScriptAnswers.push(response.status());
    });
    await page.goto(demo.baseUrl, { waitUntil: 'load' });
    await page.waitForSelector('#red-ui-palette .red-ui-palette-node', { timeout: 60_000 });
    await page.waitForFunction(() => typeof RED !== 'undefined' && !!RED.nodes.getType('energy-service'), undefined, { timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('loads the shared editor script from the package’s resources/ folder', async () => {
    assert.ok(sharedScriptAnswers.length > 0, 'resources/node-red-contrib-energy-export/editor.js was never requested');
    // 200, or 304 when the browser revalidates its cached copy for the next editor file.
    assert.ok(sharedScriptAnswers.every((status) => status === 200 || status === 304), `answers: ${sharedScriptAnswers.join(', ')}`);
    assert.equal(await page.evaluate(() => typeof (window as unknown as { EnergyExportEditor?: unknown }).EnergyExportEditor), 'object');
  });

  it('shows every node type of the package in the palette (config node registered)', async () => {
    for (const type of nodeTypes) {
      const registered = await page.evaluate((t) => !!RED.nodes.getType(t), type);
      assert.ok(registered, `${type} is not registered in the editor`);
      if (type !== 'energy-service') {
        assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).count(), 1, `${type} missing from the palette`);
      }
    }
    await page.screenshot({ path: path.join(screenshotDir, 'palette.png'), clip: { x: 0, y: 40, width: 200, height: 860 } });
  });

  it('imports and deploys every example', async () => {
    for (const file of exampleFiles()) {
      const flow = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown[];
      await page.evaluate((nodes) => RED.view.importNodes(nodes, { addFlow: true, generateIds: true }), flow);
    }
    // A scripted import does not mark the workspace as changed the way a paste does.
    await page.evaluate(() => RED.nodes.dirty(true));
    await page.click('#red-ui-header-button-deploy');
    const expected = new Set(exampleFiles().flatMap((file) => (JSON.parse(fs.readFileSync(file, 'utf8')) as Array<{ type: string }>).map((n) => n.type)));
    // Examples ship without credentials, so Node-RED asks before deploying unconfigured nodes;
    // the deploy is done when the running flows hold every imported node type.
    const confirm = page.locator('#node-dialog-confirm-deploy-deploy');
    let deployedTypes = new Set<string>();
    for (let i = 0; i < 60; i += 1) {
      if (await confirm.isVisible().catch(() => false)) await confirm.click();
      deployedTypes = new Set(((await (await fetch(`${demo.baseUrl}/flows`)).json()) as Array<{ type: string }>).map((n) => n.type));
      if ([...expected].every((type) => deployedTypes.has(type))) break;
      await page.waitForTimeout(500);
    }
    for (const type of expected) assert.ok(deployedTypes.has(type), `${type} (from the examples) was not deployed`);
    await page.screenshot({ path: path.join(screenshotDir, 'examples-deployed.png') });
    assert.ok(!/Waiting for missing types/i.test(demo.output()), 'a deployed flow uses a node type that is not installed');
  });

  it('opens every node’s edit dialog and help without errors', async () => {
    await page.evaluate(() => document.querySelectorAll<HTMLElement>('.red-ui-notification').forEach((n) => (n.style.display = 'none')));
    await page.evaluate(() => RED.workspaces.show('b7e1c0de00000001'));
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(screenshotDir, 'demo-flow.png') });
    const nodes = await page.evaluate((types) => {
      const found: Record<string, string> = {};
      const visit = (n: { id: string; type: string }): void => {
        if (types.includes(n.type) && !found[n.type]) found[n.type] = n.id;
      };
      RED.nodes.eachNode(visit);
      RED.nodes.eachConfig(visit);
      return found;
    }, nodeTypes);
    for (const type of nodeTypes) {
      const id = nodes[type];
      assert.ok(id, `no ${type} node in the imported flows to open`);
      if (type === 'energy-service') {
        await page.evaluate((nodeId) => RED.editor.editConfig('', 'energy-service', nodeId), id);
      } else {
        await page.evaluate((nodeId) => RED.editor.edit(RED.nodes.node(nodeId)), id);
      }
      const tray = page.locator('.red-ui-tray').last();
      await tray.waitFor({ state: 'visible' });
      await page.waitForTimeout(300);
      const labels = await tray.locator('.form-row label').allInnerTexts();
      assert.ok(labels.filter((l) => l.trim()).length > 0, `${type}: edit dialog has no labelled fields`);
      assert.ok(!labels.some((l) => /\w+\.\w+\.\w+/.test(l)), `${type}: untranslated catalog key in the dialog: ${labels.join(' | ')}`);
      // The shared script labels every row written as <div class="form-row" data-label="…">.
      assert.equal(await tray.locator('.form-row[data-label]').count(), 0, `${type}: rows left without their label`);
      await page.evaluate(() => document.querySelectorAll<HTMLElement>('.red-ui-notification').forEach((n) => (n.style.display = 'none')));
      await page.screenshot({ path: path.join(screenshotDir, `dialog-${type}.png`) });
      await page.evaluate(() => RED.tray.close());
      await page.waitForTimeout(300);
      const helpHtml = await page.evaluate((t) => {
        RED.sidebar.help.show(t);
        return RED.nodes.getNodeHelp(t) ?? '';
      }, type);
      const text = helpHtml.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
      const panel = page.locator('.red-ui-sidebar-help-stack');
      await panel.waitFor({ state: 'visible' });
      const firstWords = text.split(' ').slice(0, 4).join(' ');
      await page.waitForFunction((words) => (document.querySelector('.red-ui-sidebar-help-stack') as HTMLElement | null)?.innerText.replace(/\s+/g, ' ').includes(words) ?? false, firstWords, { timeout: 10_000 });
      assert.ok(text.length > 100, `${type}: help text is missing or short`);
    }
  });

  it('logged no browser console errors', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
