/**
 * The Authorize button in a real browser: Debian's Chromium driven by playwright-core, headless,
 * against Node-RED started by `npm start`'s own script and the fake Metry with OAuth2 on its host.
 * The config node's form opens Metry's authorize page in a window, the fake approves, the callback
 * on the editor stores the refresh token, the form says so, and a deploy takes it into use; the
 * client secret and the tokens appear in no flow file, log line or URL along the way.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, Browser, BrowserContext, Page } from 'playwright-core';
import { DemoProcess, startDemo } from '../../testing/demo-process';
import { FakeMetry } from '../../testing/fakes/metry';
import { FakeMetryExtras } from '../../testing/fakes/metry-extra';
import { FakeOAuth2, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } from '../../testing/fakes/oauth2';
import { until } from '../../testing/manual-clock';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = !fs.existsSync(CHROMIUM) && !process.env.CI ? `Chromium not found at ${CHROMIUM}: apt-get install chromium` : false;
const CONFIG_ID = 'a1b2c3d4e5f60718';

declare const RED: {
  nodes: { getType(type: string): unknown };
  view: { importNodes(nodes: unknown[], options?: Record<string, unknown>): void };
  editor: { editConfig(name: string, type: string, id: string): void };
};

describe('Authorize a Metry customer account in a real browser', { skip }, () => {
  let demo: DemoProcess;
  let metry: FakeMetry;
  let oauth: FakeOAuth2;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const urls: string[] = [];

  before(async () => {
    metry = await new FakeMetry().start();
    oauth = new FakeMetryExtras(metry).enableOAuth({ now: () => Date.now() });
    demo = await startDemo();
    oauth.redirectUris.push(`${demo.baseUrl}/energy-export/oauth/callback`);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    context.on('request', (request) => urls.push(request.url()));
    page = await context.newPage();
    await page.route(/catalogue\.nodered\.org\/catalogue\.json/, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"name":"offline","modules":[]}' }));
    await page.goto(demo.baseUrl, { waitUntil: 'load' });
    await page.waitForFunction(() => typeof RED !== 'undefined' && !!RED.nodes.getType('energy-service'), undefined, { timeout: 60_000 });
  });
  after(async () => {
    await browser?.close();
    await demo?.stop();
    await metry?.stop();
  });

  it('runs the authorization-code flow from the Authorize button and deploys the account without exposing a secret', async () => {
    await page.evaluate(
      ({ id, base }) => RED.view.importNodes([{ id, type: 'energy-service', name: 'Customer 17', service: 'metry', baseUrl: base, authMode: 'oauth2' }], { generateIds: false }),
      { id: CONFIG_ID, base: metry.baseUrl },
    );
    await page.evaluate((id) => RED.editor.editConfig('', 'energy-service', id), CONFIG_ID);
    await page.locator('#node-config-input-clientId').waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await page.locator('#node-config-input-token').isVisible(), false, 'OAuth2 hides the private token field');
    assert.match(await page.locator('#energy-service-redirect-uri').innerText(), /\/energy-export\/oauth\/callback$/);
    await page.fill('#node-config-input-clientId', OAUTH_CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', OAUTH_CLIENT_SECRET);

    const popup = context.waitForEvent('page');
    await page.click('#energy-service-authorize');
    const window = await popup;
    await page.waitForFunction(() => /deploy to use it/.test(document.querySelector('#energy-service-authorize-status')?.textContent ?? ''), undefined, { timeout: 30_000 });
    await window.waitForEvent('close', { timeout: 30_000 }).catch(() => undefined);
    assert.equal(oauth.tokenRequests.filter((r) => r.grantType === 'authorization_code' && r.status === 200).length, 1);

    await page.click('#node-config-dialog-ok');
    await page.click('#red-ui-header-button-deploy');
    // Deployed when the running flows hold the config node (the callback put the refresh token
    // into the credential store already; the deploy writes it to disk, encrypted).
    await page.waitForFunction(
      async ({ base, id }) => {
        const button = document.querySelector<HTMLElement>('#node-dialog-confirm-deploy-deploy');
        if (button && button.offsetParent !== null) button.click();
        const flows = (await (await fetch(`${base}/flows`)).json()) as { id: string }[];
        const credentials = await (await fetch(`${base}/credentials/energy-service/${id}`)).json();
        return flows.some((node) => node.id === id) && credentials.has_refreshToken === true && credentials.has_clientSecret === true;
      },
      { base: demo.baseUrl, id: CONFIG_ID },
      { timeout: 30_000, polling: 250 },
    );

    const flowFile = path.join(demo.userDir, 'flows.json');
    await until(() => fs.readFileSync(flowFile, 'utf8').includes(CONFIG_ID), 'the deployed flow on disk');
    const flows = fs.readFileSync(flowFile, 'utf8');
    const credentialsFile = fs.readFileSync(path.join(demo.userDir, 'flows_cred.json'), 'utf8');
    const secrets = [OAUTH_CLIENT_SECRET, ...oauth.issued.filter((t) => !t.startsWith('code_'))];
    assert.ok(secrets.length >= 3, 'a secret, an access token and a refresh token');
    for (const secret of secrets) {
      assert.ok(!flows.includes(secret), 'no secret in the flow file');
      assert.ok(!credentialsFile.includes(secret), 'the credential file is encrypted');
      assert.ok(!demo.output().includes(secret), 'no secret in the log');
      assert.ok(!urls.some((url) => url.includes(secret)), 'no secret in a URL the browser loaded');
      assert.ok(!metry.server.requests.some((r) => `${r.path}?${r.query}`.includes(secret)), 'no secret in a URL the server saw');
    }
  });
});
