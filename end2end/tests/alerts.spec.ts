// Alerts in the app: the banner on every tab and the Plan tab's list agree
// with GET /alerts; an admin changes the thresholds and the next usage
// fires the new one; the banner can be dismissed for the session.
import { Page } from '@playwright/test';
import { test, expect, api, apiToken, hydrated, ws } from './fixtures';

const tabs = ['plan', 'credits', 'conversations'];

async function cycleAlerts(page: Page) {
  const summary = await api(page, 'summary');
  const body = await api(page, 'alerts?limit=100');
  return { summary, alerts: body.alerts.filter((a: any) => a.cycle.start === summary.cycle.start) };
}

async function setThresholds(page: Page, thresholds: number[]) {
  // The demo workspace as the platform would PUT it, with only the alerts changed.
  const res = await page.request.get(`/api/v1/workspaces/${ws}/summary`, { headers: { authorization: `Bearer ${apiToken}` } });
  expect(res.status()).toBe(200);
  await page.goto('/usage/plan');
  await hydrated(page);
  const form = page.getByTestId('alert-settings');
  for (const p of [50, 80, 90, 100]) {
    const box = form.locator(`input[name="t${p}"]`);
    if (thresholds.includes(p)) await box.check();
    else await box.uncheck();
  }
  const other = thresholds.find((t) => ![50, 80, 90, 100].includes(t));
  await form.locator('input[name="custom"]').fill(other ? String(other) : '');
  await form.getByRole('button', { name: 'Save alerts' }).click();
  await expect(page.getByTestId('alerts-saved')).toBeVisible();
  await expect(page.getByTestId('thresholds')).toHaveText(thresholds.map((t) => `${t}%`).join(', '));
}

test('the banner on every tab and the Plan list agree with GET /alerts', async ({ page }) => {
  const { summary, alerts } = await cycleAlerts(page);
  const reached = alerts.filter((a: any) => a.kind === 'threshold').map((a: any) => a.percent);
  expect(reached.length, 'the demo has reached a threshold this cycle').toBeGreaterThan(0);
  const level = Math.max(...reached);
  for (const tab of tabs) {
    await page.goto(`/usage/${tab}`);
    await hydrated(page);
    const banner = page.getByTestId('alert-banner');
    await expect(banner).toBeVisible();
    await expect(banner).toHaveAttribute('data-level', String(level));
    await expect(banner).toContainText(`You have used ${level}% of this cycle's credits`);
    await expect(banner).toContainText(`${summary.credits.left.toLocaleString('en-US')} left`);
    await expect(banner).toContainText(`renews in ${summary.cycle.days_until_renewal} days`);
  }
  await page.goto('/usage/plan');
  const items = page.getByTestId('alert-list').locator('li');
  await expect(items).toHaveCount(alerts.length);
  const ids = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-alert-id')));
  expect(ids).toEqual(alerts.map((a: any) => a.id));
  // Buy More in the banner opens the request form on the Plan tab.
  await page.goto('/usage/credits');
  await hydrated(page);
  await page.getByTestId('banner-buy-more').click();
  await expect(page).toHaveURL(/\/usage\/plan\?ask=buy_more/);
  await expect(page.locator('#request-message')).toBeFocused();
  await expect(page.locator('#request-message')).toHaveValue(/buy more credits/);
});

test('an admin changes the thresholds and the next usage fires the new one', async ({ page }) => {
  const before = await cycleAlerts(page);
  const c = before.summary.credits;
  const usedPct = Math.floor((c.used * 100) / c.granted);
  // A threshold already passed but not yet reached as a setting: the next usage fires it.
  const fresh = usedPct;
  await setThresholds(page, [50, fresh, 80, 100].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b).slice(0, 5));
  // Saving fires nothing by itself.
  expect((await cycleAlerts(page)).alerts.length).toBe(before.alerts.length);
  const res = await page.request.post(`/api/v1/workspaces/${ws}/usage-events`, {
    headers: { authorization: `Bearer ${apiToken}` },
    data: { events: [{ id: `e2e-alert-${Date.now()}`, type: 'credits', occurred_at: '2026-11-25T09:30:00Z', action: 'ai_completion', credits: 1, user_id: 'u_mikaela' }] },
  });
  expect(res.status()).toBe(200);
  const after = await cycleAlerts(page);
  expect(after.alerts.length).toBe(before.alerts.length + 1);
  expect(after.alerts[0]).toMatchObject({ kind: 'threshold', percent: fresh });
  await page.goto('/usage/plan');
  await expect(page.getByTestId('alert-list').locator('li').first()).toHaveAttribute('data-percent', String(fresh));
  await setThresholds(page, [50, 80, 100]);
});

test('a member sees the settings read-only', async ({ page }) => {
  const res = await page.request.post('/demo', { form: { user_id: 'u_samara', next: '/usage/plan' }, maxRedirects: 0 });
  expect(res.status()).toBe(303);
  await page.goto('/usage/plan');
  await hydrated(page);
  await expect(page.getByTestId('alerts-read-only')).toBeVisible();
  await expect(page.getByTestId('alert-settings')).toHaveCount(0);
});

test('the banner is dismissed for the session, on every tab', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  const banner = page.getByTestId('alert-banner');
  await expect(banner).toBeVisible();
  await banner.getByRole('button', { name: /Dismiss/ }).click();
  await expect(banner).toBeHidden();
  for (const tab of tabs) {
    await page.goto(`/usage/${tab}`);
    await hydrated(page);
    await expect(page.getByTestId('alert-banner')).toHaveCount(0);
  }
});
