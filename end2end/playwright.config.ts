import { defineConfig } from '@playwright/test';
import * as os from 'os';
import * as path from 'path';

// The suite drives the real release binary in Debian's Chromium.
const port = Number(process.env.E2E_PORT ?? 3107);
const bin = process.env.CREDITS_BIN ?? path.resolve(__dirname, '../target/release/credits');
const db = path.join(os.tmpdir(), `credits-e2e-${process.pid}`, 'e2e.db');
export const baseURL = `http://127.0.0.1:${port}`;
// The platform's example host page, on another origin (localhost vs 127.0.0.1).
const hostPort = Number(process.env.E2E_HOST_PORT ?? 3108);
export const apiToken = 'e2e-api-token-0123456789abcdefghij';
export const embedSecret = 'e2e-embed-secret-0123456789abcdefghij';

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
        // Third-party cookies blocked (the tests also drop the frame's cookies, as this flag is not reliable under automation).
        '--test-third-party-cookie-phaseout',
      ],
    },
  },
  webServer: [{
    command: `rm -rf ${path.dirname(db)} && ${bin} serve --bind 127.0.0.1:${port} --database-url sqlite://${db} --api-token ${apiToken} --demo`,
    url: `${baseURL}/usage/plan`,
    cwd: path.resolve(__dirname, '..'),
    reuseExistingServer: false,
    timeout: 120_000,
    env: {
      CREDITS_NOW: process.env.CREDITS_NOW ?? '2026-11-25T10:00:00Z',
      // The platform's host page is served (by a route in the test) from another origin: localhost.
      CREDITS_EMBED_ORIGINS: `http://localhost:${hostPort}`,
      CREDITS_EMBED_SECRET: embedSecret,
      RUST_LOG: 'warn',
    },
  },
  {
    command: `node end2end/host/serve.mjs`,
    url: `http://localhost:${hostPort}/platform.html`,
    cwd: path.resolve(__dirname, '..'),
    reuseExistingServer: false,
    env: { HOST_PORT: String(hostPort), DASHBOARD_ORIGINS: baseURL },
  }],
});
