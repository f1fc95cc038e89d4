import { Page } from '@playwright/test';
import { test, expect, api, apiRows, chartsDrawn, hydrated, table } from './fixtures';

async function chartData(page: Page, id: string): Promise<any[]> {
  return page.evaluate((id) => {
    const chart = (window as any).echarts?.getInstanceByDom(document.getElementById(id));
    return chart ? chart.getOption().series[0].data : [];
  }, id);
}

/** The pie the API implies: top 8 by conversations, then "Other". */
function expectedPie(body: any): Array<[string, number]> {
  const rows = body.rows.filter((r: any) => r.conversations > 0);
  const top = rows.slice(0, 8).map((r: any) => [r.label, r.conversations] as [string, number]);
  const rest = rows.slice(8).reduce((s: number, r: any) => s + r.conversations, 0);
  return rows.length > 8 ? [...top, ['Other', rest]] : top;
}

async function checkView(page: Page, query: string) {
  const byDay = await api(page, `conversations?${query}&group_by=day`);
  const byCampaign = await api(page, `conversations?${query}&group_by=campaign`);
  const byIdentity = await api(page, `conversations?${query}&group_by=identity`);
  await expect(page.getByTestId('covered')).toHaveAttribute('data-from', byDay.period.from);
  await expect(page.getByTestId('covered')).toHaveAttribute('data-to', byDay.period.to);
  await expect(page.getByTestId('conversations-total')).toHaveAttribute('data-total', String(byDay.total));
  await expect.poll(() => chartData(page, 'chart-daily')).toEqual(byDay.rows.map((r: any) => r.conversations));
  await expect.poll(() => table(page, 'table-campaigns')).toEqual(apiRows(byCampaign, 'campaign_id', 'conversations'));
  await expect.poll(() => table(page, 'table-identities')).toEqual(apiRows(byIdentity, 'identity_id', 'conversations'));
  const pie = async (id: string) => (await chartData(page, id)).map((d: any) => [d.name, d.value]);
  await expect.poll(() => pie('chart-campaigns')).toEqual(expectedPie(byCampaign));
  await expect.poll(() => pie('chart-identities')).toEqual(expectedPie(byIdentity));
}

test('periods: the line, pies and tables equal the API', async ({ page }) => {
  await page.goto('/usage/conversations');
  await hydrated(page);
  await checkView(page, 'period=this_month');
  for (const period of ['last_week', 'last_month', 'last_28_days', 'yesterday']) {
    await page.locator(`.presets [data-period="${period}"]`).click();
    await expect(page).toHaveURL(new RegExp(`period=${period}`));
    await checkView(page, `period=${period}`);
  }
});

test('a slice click filters the line, and a reload keeps the view', async ({ page }) => {
  await page.goto('/usage/conversations?period=last_month');
  await hydrated(page);
  await checkView(page, 'period=last_month');
  await chartsDrawn(page, 'chart-campaigns');
  const target = await page.evaluate(() => {
    const el = document.getElementById('chart-campaigns')!;
    el.scrollIntoView({ block: 'center' });
    const chart = (window as any).echarts.getInstanceByDom(el);
    const data = chart.getModel().getSeriesByIndex(0).getData();
    const l = data.getItemLayout(0);
    const angle = (l.startAngle + l.endAngle) / 2;
    const r = (l.r0 + l.r) / 2;
    const box = el.getBoundingClientRect();
    return { name: data.getName(0), x: box.left + l.cx + r * Math.cos(angle), y: box.top + l.cy + r * Math.sin(angle) };
  });
  await page.mouse.click(target.x, target.y);
  await expect(page).toHaveURL(/campaign=/);
  const campaign = new URL(page.url()).searchParams.get('campaign');
  await checkView(page, `period=last_month&campaign_id=${campaign}`);
  await page.reload();
  await checkView(page, `period=last_month&campaign_id=${campaign}`);
});

test('paused and archived campaigns show their status, and cost per conversation is credits over conversations', async ({ page }) => {
  await page.goto('/usage/conversations?period=last_month');
  const credits = await api(page, 'credit-usage?period=last_month&group_by=campaign');
  const convs = await api(page, 'conversations?period=last_month&group_by=campaign');
  for (const row of convs.rows.filter((r: any) => r.campaign_id && r.conversations > 0)) {
    const spent = credits.rows.find((c: any) => c.campaign_id === row.campaign_id)?.credits ?? 0;
    const cell = page.locator(`#table-campaigns tr[data-key="${row.campaign_id}"] td[data-cost]`);
    await expect(cell).toHaveAttribute('data-cost', (spent / row.conversations).toFixed(2));
  }
  await expect(page.locator('#table-campaigns tbody')).toContainText('paused');
  await expect(page.locator('#table-campaigns tbody')).toContainText('archived');
});

for (const scheme of ['light', 'dark'] as const) {
  for (const width of [1280, 360]) {
    test(`conversations screenshots ${scheme} ${width}px`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width, height: 900 });
      await page.goto('/usage/conversations?period=last_28_days');
      await hydrated(page);
      await checkView(page, 'period=last_28_days');
      await chartsDrawn(page, 'chart-daily', 'chart-campaigns', 'chart-identities');
      await page.screenshot({ path: `end2end/screenshots/conversations-full-${scheme}-${width}.png`, fullPage: true });
    });
  }
}

test('the campaign, identity and user filters live in the URL', async ({ page }) => {
  await page.goto('/usage/conversations?period=last_28_days');
  await hydrated(page);
  for (const [name, value] of [['campaign', 'c_fintech'], ['identity', 'i_samara_li'], ['user', 'u_priya']]) {
    await page.locator(`select[data-filter="${name}"]`).selectOption(value);
    await expect(page).toHaveURL(new RegExp(`[?&]${name}=${value}`));
    await checkView(page, `period=last_28_days&${name}_id=${value}`);
    await page.locator(`.chips [data-filter="${name}"]`).click();
    await expect(page).not.toHaveURL(new RegExp(`${name}=`));
  }
  await expect(page.locator('select[data-filter="action"]')).toHaveCount(0);
});
