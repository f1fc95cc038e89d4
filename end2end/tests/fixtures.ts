import { test as base, expect, Page, FrameLocator, APIRequestContext } from '@playwright/test';
import { createHmac, randomUUID } from 'crypto';

export const apiToken = 'e2e-api-token-0123456789abcdefghij';
export const embedSecret = 'e2e-embed-secret-0123456789abcdefghij';
export const ws = 'acme';
/** The platform's example host page (end2end/host/serve.mjs): another origin than the dashboard. */
export const hostOrigin = `http://localhost:${process.env.E2E_HOST_PORT ?? 3108}`;
/** The same host server under an origin that is not allowed to frame the dashboard. */
export const strangerOrigin = `http://127.0.0.1:${process.env.E2E_HOST_PORT ?? 3108}`;

/** A hand-off token as the platform signs it (JWT HS256). */
export function handoffToken(claims: Record<string, unknown> = {}, ttlSeconds = 300, secret = embedSecret): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const header = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ sub: 'u_mikaela', ws, aud: 'credits', exp: Math.floor(Date.now() / 1000) + ttlSeconds, jti: randomUUID(), ...claims }));
  const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
  return `${header}.${body}.${sig}`;
}

/** Signs in to the demo as a user (the --demo sign-in page), sharing cookies with the page. */
export async function signIn(request: APIRequestContext, user = 'u_mikaela') {
  const res = await request.post('/demo', { form: { user_id: user, next: '/usage/plan' }, maxRedirects: 0 });
  expect(res.status()).toBe(303);
}

/** A page that fails the test on any console error, failed request or HTTP error. */
export const test = base.extend<{ page: Page; problems: string[] }>({
  problems: async ({}, use) => {
    await use([]);
  },
  page: async ({ page, problems }, use) => {
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => {
      // The chart library loads after hydration; a test that moves on at
      // once cuts that load short, as a person leaving the page would.
      // Harmless: a chart that needs it loads it again (the charts' own
      // tests wait for them to be drawn).
      if (/\/pkg\/echarts/.test(req.url()) && req.failure()?.errorText === 'net::ERR_ABORTED') return;
      problems.push(`failed: ${req.url()} ${req.failure()?.errorText}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !res.url().includes('/does-not-exist')) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    await signIn(page.request);
    await use(page);
    expect(problems, problems.join('\n')).toEqual([]);
  },
});

/** A page with no session, for sign-in tests. */
export const anonymous = base.extend<{ problems: string[] }>({
  problems: async ({}, use) => {
    await use([]);
  },
});

export { expect };

/** The platform's example host page, framing `src`. */
export async function host(page: Page, origin: string, src: string) {
  await page.goto(`${origin}/platform.html?src=${encodeURIComponent(src)}`);
}

/** Third-party cookies blocked, deterministically: frame requests lose their Cookie header. */
export async function blockFrameCookies(page: Page, baseURL: string) {
  await page.route(`${baseURL}/**`, (route) => {
    const headers = { ...route.request().headers() };
    delete headers['cookie'];
    route.continue({ headers });
  });
}

/** POSTs to the platform API with its token; returns status and JSON. */
export async function apiPost(page: Page, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await page.request.post(`/api/v1/workspaces/${ws}/${path}`, {
    headers: { authorization: `Bearer ${apiToken}` },
    data: body,
  });
  return { status: res.status(), body: await res.json() };
}

/** The API's figures, read with the platform's token. */
export async function api(page: Page, path: string): Promise<any> {
  const res = await page.request.get(`/api/v1/workspaces/${ws}/${path}`, {
    headers: { authorization: `Bearer ${apiToken}` },
  });
  expect(res.status()).toBe(200);
  return res.json();
}

/** Waits until the WASM bundle has hydrated the page. */
export async function hydrated(page: Page) {
  await expect(page.locator('html')).toHaveAttribute('data-hydrated', 'true');
}

/**
 * Waits until each chart (by its box's id) has drawn its latest options,
 * animation included: the box says `data-drawn="true"` on ECharts'
 * `finished` event.
 */
export async function chartsDrawn(page: Page | FrameLocator, ...ids: string[]) {
  for (const id of ids) await expect(page.locator(`#${id}`)).toHaveAttribute('data-drawn', 'true');
}

export function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

/** A table's figures by row key, as the page wrote them (`data-key`, `data-value`). */
export async function table(page: Page, id: string): Promise<Record<string, number>> {
  const rows = await page.locator(`#${id} tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => [tr.getAttribute('data-key') ?? '', Number(tr.getAttribute('data-value'))]),
  );
  return Object.fromEntries(rows);
}

/** The figures an API report implies for a table: each row's `field` and its `value` (rows of none or zero left out). */
export function apiRows(body: any, field: string, value: 'credits' | 'conversations' = 'credits'): Record<string, number> {
  return Object.fromEntries(body.rows.filter((r: any) => r[field] !== null && r[value] > 0).map((r: any) => [r[field], r[value]]));
}
