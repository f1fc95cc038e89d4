// Accessibility: axe-core (WCAG 2.1 A and AA rules) on every tab, light
// and dark, at 1280 and 360 px, after hydration and after in-app moves;
// and a keyboard-only pass through the controls.
import { Page } from '@playwright/test';
import { test, expect, api, hydrated, signIn } from './fixtures';

const axePath = require.resolve('axe-core/axe.min.js');

// axe is injected as an inline script, which the page's CSP rightly refuses.
test.use({ bypassCSP: true });

type Violation = { id: string; impact: string; help: string; nodes: Array<{ target: string[] }> };

async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => !!(window as any).axe))) await page.addScriptTag({ path: axePath });
  const violations: Violation[] = await page.evaluate(async () => {
    const result = await (window as any).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 4).join(', ')})`);
}

for (const width of [1280, 360]) {
  for (const scheme of ['light', 'dark'] as const) {
    test(`axe: every tab at ${width} px, ${scheme}`, async ({ page }) => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width, height: 900 });
      for (const tab of ['plan', 'credits', 'conversations']) {
        await page.goto(`/usage/${tab}?period=last_month`);
        await hydrated(page);
        // Open what a person can open: the daily table, a filter chip, the request form.
        if (tab === 'conversations') {
          await page.goto('/usage/conversations?period=last_month&campaign=c_q4');
          await hydrated(page);
          await page.locator('.day-table summary').click();
        }
        if (tab === 'plan') await page.getByRole('button', { name: 'Change Plan' }).click();
        expect(await seriousViolations(page), `/usage/${tab}`).toEqual([]);
      }
      // And after moving in the app (client-rendered views).
      await page.locator('nav.tabs').getByRole('link', { name: 'Credits', exact: true }).click();
      await expect(page.locator('#table-actions')).toBeVisible();
      expect(await seriousViolations(page), 'credits after a tab click').toEqual([]);
    });
  }
}

for (const scheme of ['light', 'dark'] as const) {
  test(`axe and the keyboard: a member's limit meter and Request more, ${scheme}, 1280 and 360 px`, async ({ page }) => {
    await signIn(page.request, 'u_samara');
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1280, 360]) {
      await page.setViewportSize({ width, height: 900 });
      await page.goto('/usage/plan');
      await hydrated(page);
      await expect(page.getByTestId('limit-meter')).toBeVisible();
      // Reached with Tab, opened with Enter, the first field focusable.
      for (let i = 0; i < 40; i++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(() => document.activeElement?.matches('[data-testid="request-more"]') ?? false)) break;
      }
      await expect(page.getByTestId('request-more')).toBeFocused();
      await page.keyboard.press('Enter');
      await expect(page.getByTestId('request-more-form')).toBeVisible();
      expect(await seriousViolations(page), `member, ${width} px`).toEqual([]);
    }
  });
}

test('keyboard only: tabs, presets, filters, sorting and drill-down', async ({ page }) => {
  await page.goto('/usage/plan');
  await hydrated(page);
  const focusOn = async (selector: string, max = 80) => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    }
    throw new Error(`never reached ${selector} with Tab`);
  };
  // A visible focus ring on whatever has the focus.
  const ring = () => page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);

  await focusOn('nav.tabs a[data-tab="Credits"]');
  expect(await ring()).not.toBe('none');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/usage\/credits/);
  await expect(page.locator('#table-actions')).toBeVisible();

  await focusOn('.presets a[data-period="last_month"]');
  expect(await ring()).not.toBe('none');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/period=last_month/);
  await expect(page.locator('.presets [aria-current="true"]')).toHaveAttribute('data-period', 'last_month');

  await focusOn('select[data-filter="user"]');
  await page.keyboard.press('ArrowDown');
  await expect(page).toHaveURL(/user=/);
  // The filtered view has drawn (a key pressed on the table it replaces is lost).
  const user = new URL(page.url()).searchParams.get('user');
  const filtered = await api(page, `credit-usage?period=last_month&user_id=${user}&group_by=action`);
  await expect(page.getByTestId('credits-total')).toHaveAttribute('data-total', String(filtered.total));
  await expect.poll(() => page.locator('#table-actions tbody tr').count()).toBe(
    filtered.rows.filter((r: any) => r.credits > 0).length,
  );

  await focusOn('#table-actions thead button.sort');
  await page.keyboard.press('Enter');
  await expect(page.locator('#table-actions thead th').first()).toHaveAttribute('aria-sort', /ascending|descending/);

  await focusOn('#table-actions tbody a.row-link');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/action=/);

  await focusOn('nav.tabs a[data-tab="Plan"]', 200);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/usage\/plan/);
  await focusOn('button[data-intent="change_plan"]');
  await page.keyboard.press('Enter');
  await expect(page.locator('#request-message')).toBeFocused();
  await page.keyboard.press('Escape');
});

