import { randomUUID } from 'crypto';
import { test, expect, api, apiPost, signIn, hydrated, thousands, handoffToken, hostOrigin, host, blockFrameCookies } from './fixtures';

// Limits (PRODUCT.md, "Limits"): a member reaches her limit and asks for
// more; an admin approves it inside the platform's frame with third-party
// cookies blocked; the member's next charge passes. Every figure drawn is
// checked against the API's.

const samara = async (page: any) => {
  const limits = await api(page, 'limits');
  return limits.users.find((u: any) => u.user_id === 'u_samara');
};

const charge = (page: any, credits: number) =>
  apiPost(page, 'charges', { id: `e2e-${randomUUID()}`, action: 'enrich_email', credits, user_id: 'u_samara' });

test('a member reaches her limit, asks for more, an admin approves it in the frame, and her next charge passes', async ({ page, baseURL }) => {
  await signIn(page.request, 'u_samara');
  await page.goto('/usage/plan');
  await hydrated(page);
  let row = await samara(page);
  expect(row.source).toBe('user');
  const meter = page.getByTestId('limit-meter');
  await expect(meter).toContainText(`You have used ${thousands(row.used)} of your ${thousands(row.effective)} credits this cycle`);
  await expect(meter).toContainText('Charges stop at your limit.');
  // A member sees her own row only, read-only.
  await expect(page.getByTestId('limits-table').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('limits-read-only')).toBeVisible();
  await expect(page.getByTestId('audit-log')).toHaveCount(0);

  // She spends up to her limit; one credit more is refused by it.
  expect((await charge(page, row.left)).status).toBe(201);
  const refused = await charge(page, 1);
  expect(refused.status).toBe(402);
  expect(refused.body.error.code).toBe('limit_reached');
  expect(refused.body.limit).toMatchObject({ scope: 'user', id: 'u_samara', left: 0 });

  // The meter says so after a move, and she asks for more.
  await page.getByRole('link', { name: 'Credits', exact: true }).click();
  await page.getByRole('link', { name: 'Plan', exact: true }).click();
  await page.reload();
  await hydrated(page);
  await expect(meter).toContainText('You have reached your limit.');
  row = await samara(page);
  expect(row.left).toBe(0);
  await page.getByTestId('request-more').click();
  const form = page.getByTestId('request-more-form');
  await form.getByLabel('Credits').fill('500');
  await form.getByLabel('Why').fill('Q4 push');
  await form.getByRole('button', { name: 'Send request' }).click();
  await expect(page.getByTestId('my-request')).toHaveAttribute('data-status', 'pending');
  await expect(page.getByTestId('my-request')).toContainText('Your request for 500 more credits is pending');
  const pending = await api(page, 'limit-requests?status=pending');
  const request = pending.limit_requests.find((r: any) => r.user_id === 'u_samara');
  expect(request).toMatchObject({ credits: 500, reason: 'Q4 push', status: 'pending' });

  // An admin, inside the platform's frame with its cookies blocked.
  await blockFrameCookies(page, baseURL!);
  await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/plan`);
  const frame = page.frameLocator('#credits');
  await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
  const item = frame.locator(`[data-request-id="${request.id}"]`);
  await expect(item).toContainText('Samara Haddad asks for 500 more credits');
  await item.getByLabel('Credits').fill('300');
  await item.getByLabel('Note').fill('ok for Q4');
  await item.getByLabel('Decision').selectOption('approve');
  await item.getByRole('button', { name: 'Decide' }).click();
  await expect(item).toHaveCount(0);
  const tableRow = frame.locator('[data-testid="limits-table"] tr[data-id="u_samara"]');
  await expect(tableRow).toContainText('300');
  row = await samara(page);
  expect(row.approved_extra).toBe(300);
  expect(row.left).toBe(300);
  await expect(tableRow).toHaveAttribute('data-left', '300');
  // The audit log says who decided what.
  await expect(frame.getByTestId('audit-log')).toContainText("Approved Samara Haddad's request for 500 credits with 300");

  // Her next charge passes.
  expect((await charge(page, 1)).status).toBe(201);
  await page.unrouteAll();
  await signIn(page.request, 'u_samara');
  await page.goto('/usage/plan');
  await hydrated(page);
  await expect(page.getByTestId('my-request')).toContainText('Mikaela Ortiz approved 300 more credits: “ok for Q4”');
  await expect(meter).toHaveAttribute('data-used', String(row.used + 1));
  await page.screenshot({ path: 'end2end/screenshots/limits-member.png', fullPage: true });
});

test('the Credits tab shows each user’s limit and what is left, and marks those at their limit', async ({ page }) => {
  await page.goto('/usage/credits');
  await hydrated(page);
  const limits = await api(page, 'limits');
  for (const u of limits.users) {
    const tr = page.locator(`#table-users tr[data-key="${u.user_id}"]`);
    if ((await tr.count()) === 0) continue; // no credits in this period
    await expect(tr.locator('td[data-limit]')).toHaveAttribute('data-limit', String(u.effective));
    await expect(tr.locator('td[data-left]')).toHaveAttribute('data-left', String(u.left));
  }
});

test('an admin sets and removes a campaign limit from the Plan tab, at 360 px', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 800 });
  await page.goto('/usage/plan');
  await hydrated(page);
  const set = page.getByTestId('set-limit');
  await set.getByLabel('For').selectOption('campaign:c_fintech');
  await set.getByLabel('Credits per cycle').fill('1234');
  await set.getByLabel('When reached').selectOption('soft');
  await set.getByRole('button', { name: 'Set limit' }).click();
  const row = page.locator('[data-testid="limits-table"] tr[data-id="c_fintech"]');
  await expect(row).toContainText('1,234');
  await page.screenshot({ path: 'end2end/screenshots/limits-admin-360.png', fullPage: true });
  const limits = await api(page, 'limits');
  expect(limits.campaigns.find((c: any) => c.campaign_id === 'c_fintech')).toMatchObject({ credits: 1234, mode: 'soft' });
  await row.getByRole('button', { name: /Remove the limit/ }).click();
  await expect(row).toHaveCount(0);
  const after = await api(page, 'limits');
  expect(after.campaigns.find((c: any) => c.campaign_id === 'c_fintech')).toBeUndefined();
  // The page fits the narrow frame.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('a member cannot change limits, whatever she posts', async ({ page }) => {
  await signIn(page.request, 'u_samara');
  await page.goto('/usage/plan');
  await hydrated(page);
  const res = await page.request.post('/rpc/limits', {
    form: { op: 'set', scope: 'user', id: 'u_samara', credits: '999999', mode: 'soft' },
    headers: { origin: new URL(page.url()).origin },
  });
  expect(res.status()).toBe(403);
  const row = await samara(page);
  expect(row.credits).not.toBe(999999);
});
