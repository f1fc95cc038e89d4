import { Page } from '@playwright/test';
import { test, expect, api, apiRows, chartsDrawn, hydrated, signIn, table, thousands } from './fixtures';

/** Sum of each series of a chart, by series id, read from the page's ECharts instance. */
async function seriesTotals(page: Page, chartId: string): Promise<Record<string, number>> {
  return page.evaluate((id) => {
    const chart = (window as any).echarts?.getInstanceByDom(document.getElementById(id));
    const out: Record<string, number> = {};
    if (!chart) return out; // the chart library arrives after hydration
    for (const s of chart.getOption().series) {
      const sum = (s.data as number[]).reduce((a, b) => a + Number(b), 0);
      if (sum > 0) out[s.id] = sum;
    }
    return out;
  }, chartId);
}

/** Waits for the view of `query` and checks tables and charts against the API. */
async function checkView(page: Page, query: string) {
  const byAction = await api(page, `credit-usage?${query}&group_by=action`);
  const byUser = await api(page, `credit-usage?${query}&group_by=user`);
  await expect(page.getByTestId('covered')).toHaveAttribute('data-from', byAction.period.from);
  await expect(page.getByTestId('covered')).toHaveAttribute('data-to', byAction.period.to);
  await expect(page.getByTestId('credits-total')).toHaveAttribute('data-total', String(byAction.total));
  await expect.poll(() => table(page, 'table-actions')).toEqual(apiRows(byAction, 'action'));
  await expect.poll(() => table(page, 'table-users')).toEqual(apiRows(byUser, 'user_id'));
  await expect.poll(() => seriesTotals(page, 'chart-actions')).toEqual(await table(page, 'table-actions'));
  await expect.poll(() => seriesTotals(page, 'chart-users')).toEqual(await table(page, 'table-users'));
  if (byAction.total === 0) await expect(page.getByTestId('empty')).toHaveText('No credits used in this period');
}

const toApi = (q: string) =>
  q.replace(/(^|&)user=/, '$1user_id=').replace(/(^|&)campaign=/, '$1campaign_id=').replace(/(^|&)identity=/, '$1identity_id=');

test('every preset switches without a reload and equals the API', async ({ page }) => {
  await page.goto('/usage/credits');
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await checkView(page, 'period=this_month');
  for (const period of ['today', 'yesterday', 'this_week', 'last_week', 'last_month', 'last_28_days', 'this_month']) {
    await page.locator(`.presets [data-period="${period}"]`).click();
    await expect(page).toHaveURL(new RegExp(`[?&]period=${period}`));
    await checkView(page, `period=${period}`);
  }
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test('a day and a custom range', async ({ page }) => {
  await page.goto('/usage/credits');
  await hydrated(page);
  const day = page.locator('[data-form="day"]');
  await day.locator('input[name="date"]').fill('2026-11-03');
  await day.getByRole('button', { name: 'Show day' }).click();
  await expect(page).toHaveURL(/period=day&date=2026-11-03/);
  await checkView(page, 'period=day&date=2026-11-03');
  const custom = page.locator('[data-form="custom"]');
  await custom.locator('input[name="from"]').fill('2026-10-12');
  await custom.locator('input[name="to"]').fill('2026-11-08');
  await custom.getByRole('button', { name: 'Apply range' }).click();
  await expect(page).toHaveURL(/period=custom&from=2026-10-12&to=2026-11-08/);
  await checkView(page, 'period=custom&from=2026-10-12&to=2026-11-08');
  await page.reload();
  await checkView(page, 'period=custom&from=2026-10-12&to=2026-11-08');
});

test('the period forms move in place with an action filter set', async ({ page }) => {
  // A hidden field named `action` shadows the form's `action` property:
  // the router reads the attribute, and the page is not reloaded.
  await page.goto('/usage/credits?period=last_month&action=enrich_email');
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const custom = page.locator('[data-form="custom"]');
  await custom.locator('input[name="from"]').fill('2026-10-12');
  await custom.locator('input[name="to"]').fill('2026-11-08');
  await custom.getByRole('button', { name: 'Apply range' }).click();
  await expect(page).toHaveURL(/action=enrich_email/);
  await expect(page).toHaveURL(/period=custom&from=2026-10-12&to=2026-11-08/);
  await checkView(page, 'period=custom&from=2026-10-12&to=2026-11-08&action=enrich_email');
  const day = page.locator('[data-form="day"]');
  await day.locator('input[name="date"]').fill('2026-11-03');
  await day.getByRole('button', { name: 'Show day' }).click();
  await expect(page).toHaveURL(/period=day&date=2026-11-03/);
  await checkView(page, 'period=day&date=2026-11-03&action=enrich_email');
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  await page.goBack();
  await checkView(page, 'period=custom&from=2026-10-12&to=2026-11-08&action=enrich_email');
});

for (const [name, value] of [
  ['user', 'u_samara'],
  ['action', 'enrich_email'],
  ['campaign', 'c_q4'],
  ['identity', 'i_mikaela_li'],
]) {
  test(`the ${name} filter lives in the URL and narrows every figure`, async ({ page }) => {
    await page.goto('/usage/credits?period=last_month');
    await hydrated(page);
    await page.locator(`select[data-filter="${name}"]`).selectOption(value);
    await expect(page).toHaveURL(new RegExp(`[?&]${name}=${value}`));
    await checkView(page, toApi(`period=last_month&${name}=${value}`));
    await page.goBack();
    await expect(page).not.toHaveURL(new RegExp(`${name}=`));
    await checkView(page, 'period=last_month');
    await page.goForward();
    await checkView(page, toApi(`period=last_month&${name}=${value}`));
  });
}

test('clicking a bar segment filters by its action', async ({ page }) => {
  await page.goto('/usage/credits?period=last_week');
  await hydrated(page);
  await checkView(page, 'period=last_week');
  await chartsDrawn(page, 'chart-actions');
  const target = await page.evaluate(() => {
    const el = document.getElementById('chart-actions')!;
    el.scrollIntoView({ block: 'center' });
    const chart = (window as any).echarts.getInstanceByDom(el);
    const series = chart.getModel().getSeriesByIndex(0);
    const data = series.getData();
    let best = 0;
    for (let i = 0; i < data.count(); i++) if (data.get('y', i) > data.get('y', best)) best = i;
    const l = data.getItemLayout(best);
    const box = el.getBoundingClientRect();
    return { id: series.id, x: box.left + l.x + l.width / 2, y: box.top + l.y + l.height / 2 };
  });
  await page.mouse.click(target.x, target.y);
  await expect(page).toHaveURL(new RegExp(`action=${target.id}`));
  await checkView(page, `period=last_week&action=${target.id}`);
});

test('a table row filters by its user', async ({ page }) => {
  await page.goto('/usage/credits?period=last_28_days');
  await hydrated(page);
  await page.locator('#table-users tbody tr[data-key="u_mikaela"] a').click();
  await expect(page).toHaveURL(/user=u_mikaela/);
  await checkView(page, 'period=last_28_days&user_id=u_mikaela');
});

test('bad query values show the default view with a note', async ({ page }) => {
  await page.goto('/usage/credits?period=fortnight&user=nobody');
  await expect(page.getByTestId('notes')).toContainText('Ignored');
  await checkView(page, 'period=this_month');
});

test('the CSV export holds the current view', async ({ page }) => {
  await page.goto('/usage/credits?period=last_week&user=u_samara');
  const href = await page.getByTestId('export').getAttribute('href');
  expect(href).toBe('/usage/credits.csv?period=last_week&user=u_samara');
  const csv = await (await page.request.get(href!)).text();
  const lines = csv.trim().split('\r\n');
  expect(lines[0]).toMatch(/^occurred_at,date,event_id,action/);
  const total = lines.slice(1).reduce((sum, l) => sum + Number(l.split(',')[6]), 0);
  const api_ = await api(page, 'credit-usage?period=last_week&user_id=u_samara');
  expect(total).toBe(api_.total);
});

test('the forecast says when credits run out, against the renewal', async ({ page }) => {
  await page.goto('/usage/credits');
  // The pinned clock is 25 Nov 2026 in Europe/Madrid: the pace is taken
  // over the 7 full days 18–24 Nov, and the cycle renews on 1 Dec.
  const summary = await api(page, 'summary');
  expect(summary.cycle.renews_on).toBe('2026-12-01');
  const window = await api(page, 'credit-usage?period=custom&from=2026-11-18&to=2026-11-24');
  const pace = window.total / 7;
  const left = summary.credits.left;
  const forecast = page.getByTestId('forecast');
  await expect(forecast).toContainText(`Pace: ${thousands(Math.round(pace))} credits a day over 18 – 24 Nov 2026`);
  // Whole days of pace the balance covers, counting today (25 Nov).
  const days = Math.floor(left / pace);
  const runsOut = new Date(Date.UTC(2026, 10, 25 + days));
  const expected =
    left <= 0
      ? 'No credits left this cycle; they renew on 1 Dec 2026.'
      : runsOut < new Date(Date.UTC(2026, 11, 1))
        ? `At this pace you run out on ${runsOut.getUTCDate()} Nov 2026; credits renew on 1 Dec 2026.`
        : 'Enough credits until renewal on 1 Dec 2026 at this pace.';
  await expect(forecast.locator('p').first()).toHaveText(expected);
});

test('without JavaScript the tables still read', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await context.newPage();
  await signIn(page.request);
  await page.goto('/usage/credits?period=last_month');
  const byAction = await api(page, 'credit-usage?period=last_month&group_by=action');
  expect(await table(page, 'table-actions')).toEqual(apiRows(byAction, 'action'));
  await context.close();
});

for (const scheme of ['light', 'dark'] as const) {
  for (const width of [1280, 360]) {
    test(`credits screenshots ${scheme} ${width}px`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width, height: 900 });
      await page.goto('/usage/credits?period=last_28_days');
      await hydrated(page);
      await checkView(page, 'period=last_28_days');
      await chartsDrawn(page, 'chart-actions', 'chart-users');
      await page.screenshot({ path: `end2end/screenshots/credits-full-${scheme}-${width}.png`, fullPage: true });
    });
  }
}
