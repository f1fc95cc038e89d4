import { Page } from '@playwright/test';
import { test, expect, api, hydrated, thousands } from './fixtures';

/** The id of the request the page shows now ('' when none). */
async function shownRequest(page: Page): Promise<string> {
  const sent = page.getByTestId('request-sent');
  return (await sent.count()) ? ((await sent.getAttribute('data-request-id')) ?? '') : '';
}

/** Waits until the page shows a request other than `before`; returns its id. */
async function newRequest(page: Page, before: string): Promise<string> {
  let id = '';
  await expect
    .poll(async () => {
      id = await shownRequest(page);
      // The status line is briefly absent while the figures reload.
      return id !== '' && id !== before;
    })
    .toBe(true);
  return id;
}

test('the Plan tab shows the figures of the summary API', async ({ page }) => {
  const summary = await api(page, 'summary');
  await page.goto('/usage/plan');
  await expect(page.getByTestId('plan-name')).toHaveText(summary.plan.name);
  await expect(page.getByTestId('plan-credits')).toHaveText(thousands(summary.credits.plan));
  await expect(page.getByTestId('addon-credits')).toHaveText(thousands(summary.credits.add_on));
  await expect(page.getByTestId('top-up')).toHaveText(/1 Dec 2026/);
  const balance = page.getByTestId('balance');
  await expect(balance).toHaveAttribute('data-granted', String(summary.credits.granted));
  await expect(balance).toHaveAttribute('data-used', String(summary.credits.used));
  await expect(balance).toHaveAttribute('data-left', String(summary.credits.left));
  await expect(page.getByTestId('price')).toContainText('€299.00');
  await expect(page.getByTestId('account-manager')).toContainText('Laura Vidal');
  await expect(page.getByRole('link', { name: /laura\.vidal@example\.com/ })).toHaveAttribute('href', 'mailto:laura.vidal@example.com');
});

for (const intent of [
  { label: 'Change Plan', key: 'change_plan' },
  { label: 'Buy More', key: 'buy_more' },
]) {
  test(`${intent.label} sends a request that survives a reload`, async ({ page }) => {
    await page.goto('/usage/plan');
    await hydrated(page);
    await page.getByRole('button', { name: intent.label }).click();
    const message = page.locator('#request-message');
    await expect(message).toBeFocused();
    await expect(message).toHaveValue(/Hi Laura/);
    await message.fill(`Please help: ${intent.key} from the e2e suite`);
    const before = await shownRequest(page);
    await page.getByRole('button', { name: 'Send request' }).click();
    const id = await newRequest(page, before);
    const sent = page.getByTestId('request-sent');
    await expect(sent).toHaveAttribute('data-intent', intent.key);
    await expect(sent).toContainText('Request sent to Laura Vidal');
    await page.reload();
    await expect(page.getByTestId('request-sent')).toHaveAttribute('data-request-id', id);
    const stored = await api(page, 'support-requests?limit=1');
    expect(stored.requests[0].id).toBe(id);
    expect(stored.requests[0].intent).toBe(intent.key);
    expect(stored.requests[0].message).toBe(`Please help: ${intent.key} from the e2e suite`);
  });
}

test('a request can be sent with the keyboard alone', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  // Tab through the page until Buy More has focus.
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement?.getAttribute('data-intent') === 'buy_more')) break;
  }
  await expect(page.getByRole('button', { name: 'Buy More' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('#request-message')).toBeFocused();
  await page.keyboard.type(' (typed)');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Send request' })).toBeFocused();
  const before = await shownRequest(page);
  await page.keyboard.press('Enter');
  await newRequest(page, before);
  await expect(page.getByTestId('request-sent')).toHaveAttribute('data-intent', 'buy_more');
  const stored = await api(page, 'support-requests?limit=1');
  expect(stored.requests[0].message).toMatch(/\(typed\)$/);
});

test('the account manager card opens the same request form', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  await page.getByTestId('account-manager').getByRole('button', { name: 'Ask for more credits' }).click();
  await expect(page.locator('#request-message')).toBeFocused();
  await expect(page.locator('#request-message')).toHaveValue(/buy more credits/);
  const before = await shownRequest(page);
  await page.getByRole('button', { name: 'Send request' }).click();
  await newRequest(page, before);
  await expect(page.getByTestId('request-sent')).toHaveAttribute('data-intent', 'buy_more');
});

// Inside the platform's iframe, Change Plan posts credits:open-chat: see embed.spec.ts.

test.describe('a Spanish browser', () => {
  test.use({ locale: 'es-ES' });
  test('sees the price formatted for its locale', async ({ page }) => {
    await page.goto('/usage/plan');
    await expect(page.getByTestId('price')).toContainText('299,00\u00a0€');
    await hydrated(page);
    await expect(page.getByTestId('price')).toContainText('299,00\u00a0€');
  });
});
