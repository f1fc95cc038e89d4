import { test, expect, api, hydrated, chartsDrawn, thousands } from './fixtures';

const tabs = [
  { name: 'Plan', path: '/usage/plan', heading: 'Plan' },
  { name: 'Credits', path: '/usage/credits', heading: 'Credits usage' },
  { name: 'Conversations', path: '/usage/conversations', heading: 'Conversations' },
];

test('/ redirects to the Plan tab', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/usage\/plan$/);
});

for (const tab of tabs) {
  test(`${tab.name} loads by URL with the header figures of the database`, async ({ page }) => {
    const summary = await api(page, 'summary');
    await page.goto(tab.path);
    await expect(page.getByRole('heading', { level: 1, name: tab.heading })).toBeVisible();
    const left = page.getByTestId('credits-left');
    await expect(left).toHaveAttribute('data-left', String(summary.credits.left));
    await expect(left).toHaveAttribute('data-granted', String(summary.credits.granted));
    await expect(left.locator('.big')).toHaveText(thousands(summary.credits.left));
    const renews = page.getByTestId('renews');
    await expect(renews).toHaveAttribute('data-days', String(summary.cycle.days_until_renewal));
    await expect(renews).toHaveAttribute('data-date', summary.cycle.renews_on);
    await expect(page.getByRole('link', { name: tab.name, exact: true })).toHaveAttribute('aria-current', 'page');
    await hydrated(page);
  });
}

test('the tabs show headline figures from the API', async ({ page }) => {
  await page.goto('/usage/plan');
  const summary = await api(page, 'summary');
  await expect(page.getByTestId('plan-name')).toHaveText(summary.plan.name);
  await expect(page.getByTestId('plan-credits')).toHaveText(thousands(summary.credits.plan));
  await expect(page.getByTestId('addon-credits')).toHaveText(thousands(summary.credits.add_on));
  const month = await api(page, 'credit-usage?period=this_month&group_by=category');
  await page.goto('/usage/credits');
  await expect(page.getByTestId('credits-total')).toHaveText(thousands(month.total));
  const lastWeek = await api(page, 'conversations?period=last_week&group_by=day');
  await page.goto('/usage/conversations?period=last_week');
  await expect(page.getByTestId('conversations-total')).toHaveText(thousands(lastWeek.total));
});

test('tabs switch on the client, and back and forward work', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await page.getByRole('link', { name: 'Credits', exact: true }).click();
  await expect(page).toHaveURL(/\/usage\/credits$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Credits usage' })).toBeVisible();
  await expect(page).toHaveTitle('Credits — Credits usage');
  await page.getByRole('link', { name: 'Conversations', exact: true }).click();
  await expect(page).toHaveURL(/\/usage\/conversations$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Conversations' })).toBeVisible();
  await expect(page).toHaveTitle('Conversations — Credits');
  await page.goBack();
  await expect(page).toHaveURL(/\/usage\/credits$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Credits usage' })).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/usage\/plan$/);
  await expect(page).toHaveTitle('Plan — Credits');
  await page.goForward();
  await expect(page).toHaveURL(/\/usage\/credits$/);
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test('a move asks the server for what the new view shows, once', async ({ page }) => {
  await page.goto('/usage/credits?period=last_week&action=enrich_email');
  await hydrated(page);
  const lastWeek = await api(page, 'conversations?period=last_week&group_by=day');
  const lastMonth = await api(page, 'conversations?period=last_month&group_by=day');
  const asked: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/rpc/')) asked.push(u.pathname);
  });
  // Credits → Conversations drops the action: the Credits tab leaves without
  // asking for its own data again under the new address.
  await page.getByRole('link', { name: 'Conversations', exact: true }).click();
  await expect(page).toHaveURL(/\/usage\/conversations\?period=last_week$/);
  await expect(page.getByTestId('conversations-total')).toBeVisible();
  await page.locator('.presets [data-period="last_month"]').click();
  await expect(page.getByTestId('covered')).toHaveAttribute('data-from', lastMonth.period.from);
  await page.goBack();
  await expect(page).toHaveURL(/\/usage\/conversations\?period=last_week$/);
  await expect(page.getByTestId('covered')).toHaveAttribute('data-from', lastWeek.period.from);
  await page.getByRole('link', { name: 'Plan', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Plan' })).toBeVisible();
  // Give a stray request the time to show itself.
  await page.waitForTimeout(300);
  expect(asked).toEqual(['/rpc/conversations-view', '/rpc/conversations-view', '/rpc/conversations-view']);
});

test('links the app does not show are left to the browser', async ({ page }) => {
  await page.goto('/usage/credits?period=last_week');
  await hydrated(page);
  const download = page.waitForEvent('download');
  await page.getByTestId('export').click();
  expect((await download).suggestedFilename()).toBe('credit-usage.csv');
  await expect(page).toHaveURL(/\/usage\/credits\?period=last_week$/);
});

test('an unknown address shows the 404 page', async ({ page, problems }) => {
  const res = await page.goto('/usage/does-not-exist');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await expect(page).toHaveTitle('Page not found — Credits');
  await hydrated(page);
  // The document's own 404 is the point of this test; anything else still fails it.
  const expected = 'console: Failed to load resource: the server responded with a status of 404 (Not Found)';
  const i = problems.indexOf(expected);
  expect(i).toBeGreaterThanOrEqual(0);
  problems.splice(i, 1);
});

test('signing out ends the session, and back shows no figures', async ({ page }) => {
  await page.goto('/usage/credits?period=last_week');
  await hydrated(page);
  await expect(page.locator('nav.tabs')).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Standalone with --demo, a page without a session leads to the demo's sign-in.
  await expect(page).toHaveURL(/\/demo\?next=(%2F|\/)usage(%2F|\/)plan$/);
  await expect(page.getByRole('heading', { name: 'Sign in to the demo' })).toBeVisible();
  await expect(page.locator('nav.tabs')).toHaveCount(0);
  // The session is gone on the server: another tab, or back, asks again.
  await page.goto('/usage/conversations');
  await expect(page).toHaveURL(/\/demo\?next=(%2F|\/)usage(%2F|\/)conversations$/);
  await page.goBack();
  await expect(page.locator('nav.tabs')).toHaveCount(0);
  const rpc = await page.request.post('/rpc/overview', { headers: { 'sec-fetch-site': 'same-origin' } });
  expect(rpc.status()).toBe(401);
});

test('the API answers 401 without the token', async ({ page }) => {
  const res = await page.request.get('/api/v1/workspaces/acme/summary');
  expect(res.status()).toBe(401);
  expect((await res.json()).error.code).toBe('unauthorized');
});

for (const scheme of ['light', 'dark'] as const) {
  for (const width of [1280, 360]) {
    test(`screenshots ${scheme} ${width}px`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width, height: 900 });
      for (const tab of tabs) {
        await page.goto(tab.path);
        await hydrated(page);
        // The screenshot shows the tab as a person sees it: charts drawn.
        const charts = await page.locator('[data-chart]').evaluateAll((els) => els.map((e) => e.id).filter(Boolean));
        await chartsDrawn(page, ...charts);
        await page.screenshot({ path: `end2end/screenshots/${tab.name.toLowerCase()}-${scheme}-${width}.png`, fullPage: true });
        // Nothing wider than the viewport.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow).toBeLessThanOrEqual(0);
      }
    });
  }
}
