import { test as base, expect, Page } from '@playwright/test';

export const apiToken = 'e2e-token';
export const ws = 'acme';

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
    page.on('requestfailed', (req) => problems.push(`failed: ${req.url()} ${req.failure()?.errorText}`));
    page.on('response', (res) => {
      if (res.status() >= 400 && !res.url().includes('/does-not-exist')) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    await use(page);
    expect(problems, problems.join('\n')).toEqual([]);
  },
});

export { expect };

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

export function thousands(n: number): string {
  return n.toLocaleString('en-US');
}
