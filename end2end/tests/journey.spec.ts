// The dashboard as a person moves through it: tab links, back and forward,
// presets, filters and drill-down, checking after every move that each
// chart has drawn the same figures as the table under it.
import { Page } from '@playwright/test';
import { test, expect, hydrated, table } from './fixtures';

type Figures = Record<string, number>;

/** The ECharts option drawn in a chart box, or null when nothing is drawn there. */
async function drawn(page: Page, id: string): Promise<any | null> {
  return page.evaluate((id) => {
    const el = document.getElementById(id);
    const echarts = (window as any).echarts;
    const chart = el && echarts ? echarts.getInstanceByDom(el) : null;
    if (!chart || !el) return null;
    // A chart made on a detached or zero-width box stays blank: require a painted canvas.
    const canvas = el.querySelector('canvas');
    if (!canvas || canvas.width === 0 || el.clientWidth === 0) return null;
    return chart.getOption();
  }, id);
}

/** Sum of each stacked-bar series by series id (zero series left out). */
async function barTotals(page: Page, id: string): Promise<Figures | null> {
  const option = await drawn(page, id);
  if (!option) return null;
  const out: Figures = {};
  for (const s of option.series) {
    const sum = (s.data as number[]).reduce((a, b) => a + Number(b), 0);
    if (sum > 0) out[s.id] = sum;
  }
  return out;
}

/** Polls until `a()` and `b()` agree (both read afresh each time: the view may still be changing). */
async function agree<T>(a: () => Promise<T>, b: () => Promise<T>, what: string) {
  await expect
    .poll(async () => {
      const [x, y] = [await a(), await b()];
      return JSON.stringify(x) === JSON.stringify(y) && x !== null ? 'equal' : `${what}: chart ${JSON.stringify(x)} vs table ${JSON.stringify(y)}`;
    })
    .toBe('equal');
}

/** The Credits tab's two charts equal their tables. */
async function creditsChartsMatch(page: Page) {
  await expect(page.locator('#table-actions')).toBeVisible();
  await agree(() => barTotals(page, 'chart-actions'), () => table(page, 'table-actions'), 'actions');
  await agree(() => barTotals(page, 'chart-users'), () => table(page, 'table-users'), 'users');
}

/** The pie a table implies: the top 8 rows by value, then "Other". */
async function pieOfTable(page: Page, id: string): Promise<Array<[string, number]>> {
  const rows = await page.locator(`#${id} tbody tr`).evaluateAll((trs) =>
    trs.map((tr) => [tr.querySelector('th')?.textContent?.trim() ?? '', Number(tr.getAttribute('data-value'))] as [string, number]),
  );
  const sorted = rows.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  const top = sorted.slice(0, 8);
  const rest = sorted.slice(8).reduce((s, [, v]) => s + v, 0);
  return (sorted.length > 8 ? [...top, ['Other', rest]] : top) as Array<[string, number]>;
}

/** The Conversations tab's line and pies equal their tables. */
async function conversationsChartsMatch(page: Page) {
  await expect(page.locator('#table-campaigns')).toBeVisible();
  await agree(
    async () => (await drawn(page, 'chart-daily'))?.series[0].data.map(Number) ?? null,
    async () => Object.values(await table(page, 'table-daily')),
    'daily',
  );
  const order = (rows: Array<[string, number]>) => rows.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [chart, tbl] of [['chart-campaigns', 'table-campaigns'], ['chart-identities', 'table-identities']]) {
    await agree(
      async () => {
        const option = await drawn(page, chart);
        if (!option) return null;
        const data = option.series[0].data as Array<{ name: string; value: number }>;
        return order(data.map((d) => [d.name, d.value] as [string, number]));
      },
      async () => order(await pieOfTable(page, tbl)),
      chart,
    );
  }
}

const tab = (page: Page, name: string) => page.locator('nav.tabs').getByRole('link', { name, exact: true });

test('charts draw after tab links, back and forward, presets, filters and drill-down', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await tab(page, 'Credits').click();
  await expect(page).toHaveURL(/\/usage\/credits$/);
  await creditsChartsMatch(page);

  await tab(page, 'Conversations').click();
  await expect(page).toHaveURL(/\/usage\/conversations$/);
  await conversationsChartsMatch(page);

  await page.goBack();
  await expect(page).toHaveURL(/\/usage\/credits$/);
  await creditsChartsMatch(page);

  await page.goForward();
  await expect(page).toHaveURL(/\/usage\/conversations$/);
  await conversationsChartsMatch(page);

  // A preset on Conversations, then back to Credits: the period is kept.
  await page.locator('.presets [data-period="last_week"]').click();
  await expect(page).toHaveURL(/period=last_week/);
  await conversationsChartsMatch(page);
  await tab(page, 'Credits').click();
  await expect(page).toHaveURL(/\/usage\/credits\?period=last_week$/);
  await expect(page.locator('.presets [aria-current="true"]')).toHaveAttribute('data-period', 'last_week');
  await creditsChartsMatch(page);

  // A filter, then a drill-down by a table row.
  await page.locator('select[data-filter="user"]').selectOption('u_samara');
  await expect(page).toHaveURL(/user=u_samara/);
  await creditsChartsMatch(page);
  const firstAction = page.locator('#table-actions tbody tr').first();
  const action = await firstAction.getAttribute('data-key');
  expect(action).toBeTruthy();
  await firstAction.locator('a').click();
  await expect(page).toHaveURL(new RegExp(`action=${action}`));
  await creditsChartsMatch(page);

  // Conversations keep the user filter and the period, not the action.
  await tab(page, 'Conversations').click();
  await expect(page).toHaveURL(/\/usage\/conversations\?period=last_week&user=u_samara$/);
  await conversationsChartsMatch(page);
  // Plan and back: what Conversations kept is kept for the way back.
  await tab(page, 'Plan').click();
  await expect(page.getByRole('heading', { level: 1, name: 'Plan' })).toBeVisible();
  await tab(page, 'Credits').click();
  await expect(page).toHaveURL(/\/usage\/credits\?period=last_week&user=u_samara$/);
  await creditsChartsMatch(page);
  await page.goBack();
  await page.goBack();
  await expect(page).toHaveURL(/\/usage\/conversations\?/);
  await conversationsChartsMatch(page);

  // Only one tab and one preset are current at a time.
  await expect(page.locator('nav.tabs [aria-current]')).toHaveCount(1);
  await expect(page.locator('.presets [aria-current]')).toHaveCount(1);
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test('charts follow their box when the window narrows and widens', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  await tab(page, 'Credits').click();
  await creditsChartsMatch(page);
  const width = () => page.evaluate(() => (window as any).echarts.getInstanceByDom(document.getElementById('chart-actions')).getWidth());
  const wide = await width();
  await page.setViewportSize({ width: 360, height: 800 });
  await expect.poll(width).toBeLessThan(wide);
  await expect.poll(width).toBeLessThanOrEqual(360);
  await page.setViewportSize({ width: 1280, height: 800 });
  await expect.poll(width).toBe(wide);
});

test('the day and range forms leave no empty parameter in the address', async ({ page }) => {
  await page.goto('/usage/credits?user=u_samara');
  await hydrated(page);
  const day = page.locator('[data-form="day"]');
  await day.locator('input[name="date"]').fill('2026-11-10');
  await day.locator('input[name="date"]').press('Enter');
  await expect(page).toHaveURL(/\/usage\/credits\?user=u_samara&period=day&date=2026-11-10$/);
  await creditsChartsMatch(page);
  const custom = page.locator('[data-form="custom"]');
  await custom.locator('input[name="from"]').fill('2026-10-12');
  await custom.locator('input[name="to"]').fill('2026-11-08');
  await custom.getByRole('button', { name: 'Apply range' }).click();
  await expect(page).toHaveURL(/\/usage\/credits\?user=u_samara&period=custom&from=2026-10-12&to=2026-11-08$/);
  expect(page.url()).not.toMatch(/&=|\?=/);
});

test.describe('a failing server function', () => {
  for (const [how, expected] of [
    ['answers 500', 'We could not load these figures just now. Please retry in a moment.'],
    ['drops the connection', 'We could not reach the server. Check your connection, then retry.'],
  ] as const) {
    test(`that ${how} shows one plain sentence and a working Retry`, async ({ page, problems }) => {
      await page.goto('/usage/plan');
      await hydrated(page);
      let failing = true;
      await page.route('**/rpc/credits-view**', (route) => {
        if (!failing) return route.continue();
        return how === 'answers 500'
          ? route.fulfill({ status: 500, contentType: 'text/plain', body: 'Invalid format: missing delimiter in x' })
          : route.abort('connectionreset');
      });
      await tab(page, 'Credits').click();
      const error = page.getByTestId('load-error');
      await expect(error).toBeVisible();
      await expect(error.locator('p')).toHaveText(expected);
      await expect(error).not.toContainText(/server function|Invalid format|TypeError|deserializ/i);
      failing = false;
      await error.getByRole('button', { name: 'Retry' }).click();
      await expect(error).toBeHidden();
      await creditsChartsMatch(page);
      // The failures were the ones this test made.
      const ours = problems.filter((p) => p.includes('/rpc/credits-view'));
      problems.splice(0, problems.length, ...problems.filter((p) => !ours.includes(p) && !/status of 500|Failed to load resource/.test(p)));
    });
  }
});

test('at 360 px the tables fit without scrolling sideways', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 800 });
  for (const path of ['/usage/credits', '/usage/conversations']) {
    await page.goto(path);
    await hydrated(page);
    const overflowing = await page.locator('.table-wrap').evaluateAll((els) =>
      els.filter((e) => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1).map((e) => e.querySelector('table')?.id),
    );
    expect(overflowing, `${path}: tables wider than their box`).toEqual([]);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  }
});

test('the server-rendered body: no second load on hydration, and its controls work after every move', async ({ page }) => {
  const asked: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/rpc/')) asked.push(new URL(r.url()).pathname);
  });
  await page.goto('/usage/credits?period=last_28_days');
  await hydrated(page);
  await creditsChartsMatch(page);
  // The first view's body came with the page: hydrating it asked for nothing.
  expect(asked).toEqual([]);

  const labels = () => page.locator('#table-users tbody tr th').allInnerTexts();
  const values = async () => Object.values(await table(page, 'table-users'));
  const sortBy = (name: string) => page.locator('#table-users thead button.sort', { hasText: name });
  for (const move of ['first view', 'preset', 'back']) {
    if (move === 'preset') {
      await page.locator('.presets [data-period="this_month"]').click();
      await expect(page).toHaveURL(/period=this_month/);
    } else if (move === 'back') {
      await page.goBack();
      await expect(page).toHaveURL(/period=last_28_days/);
    }
    await creditsChartsMatch(page);
    // By value, largest first, until a header is clicked.
    const byValue = await values();
    expect(byValue).toEqual([...byValue].sort((a, b) => b - a));
    await sortBy('User').click();
    const names = await labels();
    expect(names.length, move).toBeGreaterThan(1);
    // Code point order of the lower-cased names, as the page sorts them.
    expect(names, move).toEqual([...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0)));
    await expect(page.locator('#table-users thead th').first()).toHaveAttribute('aria-sort', 'ascending');
    await sortBy('User').click();
    expect(await labels(), move).toEqual([...names].reverse());
    await expect(page.locator('#table-users thead th').first()).toHaveAttribute('aria-sort', 'descending');
    await sortBy('Credits').click();
    expect(await values(), move).toEqual(byValue);
    await expect(page.locator('#table-users thead th').first()).toHaveAttribute('aria-sort', 'none');
  }
  // A filter select moves to the filtered view, and its chart draws.
  const action = Object.keys(await table(page, 'table-actions'))[0];
  await page.locator('select[data-filter="action"]').selectOption(action);
  await expect(page).toHaveURL(new RegExp(`action=${action}`));
  await creditsChartsMatch(page);
  expect(Object.keys(await table(page, 'table-actions'))).toEqual([action]);
});
