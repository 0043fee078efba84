/**
 * HTTPS through a proxy must tunnel (CONNECT) so the proxy never sees the token: a real local
 * HTTPS server with a certificate made for the test, and a real CONNECT proxy that records what
 * passes through it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ServiceHttpClient, chooseProxy } from '../../../src/core/http/client';
import { bearerAuth } from '../../../src/core/http/auth';

const TOKEN = 'proxy-test-token-7c1d9e2f4a6b8c0d';

describe('requests through a proxy', () => {
  let target: https.Server;
  let plainTarget: http.Server;
  let proxy: net.Server;
  let cert: string;
  const tunnelled: string[] = [];
  const forwarded: string[] = [];
  let relayed = Buffer.alloc(0);
  let targetPort = 0;
  let plainPort = 0;
  let proxyUrl = '';

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'energy-proxy-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    const key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
    const answer = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ authorization: req.headers.authorization, path: req.url }));
    };
    target = https.createServer({ key, cert }, answer);
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    targetPort = (target.address() as AddressInfo).port;
    plainTarget = http.createServer(answer);
    await new Promise<void>((resolve) => plainTarget.listen(0, '127.0.0.1', resolve));
    plainPort = (plainTarget.address() as AddressInfo).port;

    // A forwarding proxy: CONNECT tunnels for HTTPS, absolute-URI forwarding for plain HTTP.
    const proxyHttp = http.createServer((req, res) => {
      forwarded.push(`${req.method} ${req.url}`);
      const url = new URL(req.url ?? '');
      const upstream = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    proxyHttp.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnelled.push(`${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        client.on('data', (chunk: Buffer) => {
          relayed = Buffer.concat([relayed, chunk]);
        });
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    proxy = proxyHttp;
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });

  after(async () => {
    proxy.close();
    target.close();
    plainTarget.close();
    target.closeAllConnections();
    plainTarget.closeAllConnections();
  });

  it('tunnels HTTPS with CONNECT, so the proxy relays only encrypted bytes', async () => {
    const client = new ServiceHttpClient({ service: 'metry', baseURL: `https://127.0.0.1:${targetPort}/api/v2`, auth: bearerAuth(TOKEN), tls: { ca: cert }, proxy: { url: proxyUrl } });
    const response = await client.request<{ authorization: string; path: string }>({ path: '/meters' });
    await client.close();
    assert.equal(response.data.authorization, `Bearer ${TOKEN}`);
    assert.equal(response.data.path, '/api/v2/meters');
    assert.deepEqual(tunnelled, [`127.0.0.1:${targetPort}`]);
    assert.ok(relayed.length > 0);
    assert.ok(!relayed.toString('latin1').includes(TOKEN), 'the token crossed the proxy in clear text');
  });

  it('forwards plain HTTP through the proxy', async () => {
    const client = new ServiceHttpClient({ service: 'dsmr-reader', baseURL: `http://127.0.0.1:${plainPort}`, auth: bearerAuth(TOKEN), proxy: { url: proxyUrl } });
    const response = await client.request<{ path: string }>({ path: '/api/v2/application/version' });
    await client.close();
    assert.equal(response.data.path, '/api/v2/application/version');
    assert.ok(forwarded.some((line) => line.includes(`127.0.0.1:${plainPort}/api/v2/application/version`)));
  });

  it('takes the proxy from the environment and honours no_proxy', () => {
    const base = new URL('https://app.metry.io/api/v2');
    assert.equal(chooseProxy(base, undefined, { https_proxy: 'http://proxy.local:3128' })?.url, 'http://proxy.local:3128');
    assert.equal(chooseProxy(base, undefined, { HTTPS_PROXY: 'http://proxy.local:3128', no_proxy: 'localhost,.metry.io' }), undefined);
    assert.equal(chooseProxy(base, undefined, { http_proxy: 'http://p:1', no_proxy: '*' }), undefined);
    assert.equal(chooseProxy(new URL('http://192.168.1.10:7777'), undefined, { https_proxy: 'http://p:1' }), undefined, 'https_proxy is not for http targets');
    assert.equal(chooseProxy(base, false, { https_proxy: 'http://p:1' }), undefined);
    assert.equal(chooseProxy(base, { url: 'http://cfg:8080', noProxy: ['app.metry.io'] }, {}), undefined);
  });
});
