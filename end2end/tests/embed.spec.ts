import { Page } from '@playwright/test';
import { test, expect, handoffToken, hostOrigin, strangerOrigin, host, blockFrameCookies } from './fixtures';

const messages = (page: Page) => page.evaluate(() => (window as any).__messages as Array<{ origin: string; data: any }>);
const ofType = async (page: Page, type: string) => (await messages(page)).filter((m) => m.data?.type === type);

test.describe('inside the platform iframe, with third-party cookies blocked', () => {
  test('tabs and periods work, the frame grows to its content, and deep links are reported', async ({ page, baseURL }) => {
    await blockFrameCookies(page, baseURL!);
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/credits?period=last_week`);
    const frame = page.frameLocator('#credits');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await expect(frame.getByTestId('covered')).toHaveAttribute('data-from', /\d{4}-\d{2}-\d{2}/);
    await expect.poll(async () => (await ofType(page, 'credits:ready')).length).toBeGreaterThan(0);
    const ready = (await ofType(page, 'credits:ready'))[0];
    expect(ready.origin).toBe(baseURL);
    // The address is the dashboard's own, under /embed.
    const inner = page.frames().find((f) => f.url().startsWith(baseURL!))!;
    expect(new URL(inner.url()).pathname).toBe('/embed/usage/credits');
    // Tabs and periods work without cookies.
    await frame.getByRole('link', { name: 'Conversations', exact: true }).click();
    await expect(frame.getByRole('heading', { level: 1, name: 'Conversations' })).toBeVisible();
    // As a person does: the new tab's figures first, then its presets (a
    // click on the Credits body's presets, still on screen while the new
    // body loads, was lost with the body it landed on).
    await expect(frame.getByTestId('conversations-total')).toBeVisible();
    await frame.locator('.presets [data-period="last_month"]').click();
    await expect(frame.getByTestId('conversations-total')).toBeVisible();
    await expect
      .poll(async () => (await ofType(page, 'credits:navigate')).map((m) => m.data.path))
      .toContain('/usage/conversations?period=last_month');
    // The frame has no inner scrollbar: it was resized to its content.
    await expect.poll(async () => (await ofType(page, 'credits:resize')).length).toBeGreaterThan(0);
    await expect
      .poll(async () => {
        const frameHeight = await page.locator('#credits').evaluate((f) => (f as HTMLIFrameElement).clientHeight);
        // The host starts the frame at 400 px.
        const content = await inner.evaluate(() => document.documentElement.scrollHeight);
        return frameHeight >= content && frameHeight > 400;
      })
      .toBe(true);
    // The platform's theme applies.
    await page.evaluate((o) => (window as any).sendToFrame({ type: 'credits:theme', mode: 'dark' }, o), baseURL);
    await expect(frame.locator('html')).toHaveAttribute('data-theme', 'dark');
    // The charts follow it (the server's options with the dark overlay
    // merged over them), and come back when the platform turns light again.
    const chartText = (id: string) =>
      inner.evaluate((id) => {
        const chart = (window as any).echarts?.getInstanceByDom(document.getElementById(id));
        const o = chart?.getOption();
        return [o?.legend?.[0]?.textStyle?.color, o?.series?.[0]?.label?.color ?? o?.xAxis?.[0]?.axisLabel?.color];
      }, id);
    await expect.poll(() => chartText('chart-campaigns')).toEqual(['#c9d1e0', '#c9d1e0']);
    await expect.poll(() => chartText('chart-daily')).toEqual(['#c9d1e0', '#c9d1e0']);
    await page.evaluate((o) => (window as any).sendToFrame({ type: 'credits:theme', mode: 'light' }, o), baseURL);
    await expect(frame.locator('html')).toHaveAttribute('data-theme', 'light');
    await expect.poll(() => chartText('chart-campaigns')).toEqual(['#343a48', '#343a48']);
    await expect.poll(() => chartText('chart-daily')).toEqual(['#343a48', '#343a48']);
  });

  test('the frame follows its content down as well as up, and charts draw after tab clicks', async ({ page, baseURL }) => {
    await blockFrameCookies(page, baseURL!);
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/plan`);
    const frame = page.frameLocator('#credits');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
    const inner = page.frames().find((f) => f.url().startsWith(baseURL!))!;
    const lastHeight = async () => (await ofType(page, 'credits:resize')).map((m) => m.data.height).pop() ?? 0;
    const frameHeight = () => page.locator('#credits').evaluate((f) => (f as HTMLIFrameElement).clientHeight);
    const contentBottom = () => inner.evaluate(() => Math.ceil(document.querySelector('.app')!.getBoundingClientRect().bottom + scrollY));
    const settled = async () => {
      await expect.poll(async () => Math.abs((await frameHeight()) - (await contentBottom()))).toBeLessThanOrEqual(1);
      return frameHeight();
    };
    const plan = await settled();
    // The alert banner shows inside the platform too.
    await expect(frame.getByTestId('alert-banner')).toBeVisible();
    // To the Credits tab (shorter than an admin's Plan tab with its limits
    // and audit log, taller than a member's): its charts draw after the tab click.
    await frame.getByRole('link', { name: 'Credits', exact: true }).click();
    await expect(frame.locator('#table-actions')).toBeVisible();
    await expect
      .poll(() => inner.evaluate(() => {
        const el = document.getElementById('chart-actions')!;
        const c = (window as any).echarts?.getInstanceByDom(el);
        return !!c && el.querySelector('canvas') !== null && el.clientWidth > 0;
      }))
      .toBe(true);
    const credits = await settled();
    expect(Math.abs(credits - plan)).toBeGreaterThan(50);
    // Back on Plan, the frame follows Plan's content again, the other way.
    await frame.getByRole('link', { name: 'Plan', exact: true }).click();
    await expect(frame.getByRole('heading', { level: 1, name: 'Plan' })).toBeVisible();
    const again = await settled();
    expect(Math.sign(again - credits)).toBe(Math.sign(plan - credits));
    expect(Math.abs(again - plan)).toBeLessThanOrEqual(2);
    expect(await lastHeight()).toBe(again);
  });

  test('Export CSV works inside the frame with cookies blocked', async ({ page, baseURL }) => {
    await blockFrameCookies(page, baseURL!);
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/credits?period=last_month`);
    const frame = page.frameLocator('#credits');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
    const download = page.waitForEvent('download');
    await frame.getByTestId('export').click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('credit-usage.csv');
    const text = require('fs').readFileSync(await file.path(), 'utf8');
    expect(text.split('\r\n')[0]).toMatch(/^occurred_at,/);
    expect(text.split('\r\n').length).toBeGreaterThan(10);
  });

  test('the frame sends its session only to its own exports, never to a link elsewhere', async ({ page, baseURL }) => {
    await blockFrameCookies(page, baseURL!);
    // Every request to the other origin: whether the browser navigated to
    // it (the link left to the browser) and what it carried.
    const foreign: { navigation: boolean; headers: Record<string, string> }[] = [];
    await page.route('https://elsewhere.example/**', (route) => {
      foreign.push({ navigation: route.request().isNavigationRequest(), headers: route.request().headers() });
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>elsewhere</p>' });
    });
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/credits?period=last_month`);
    const frame = page.frameLocator('#credits');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
    // A link that the export listener would see, pointing at another origin.
    await frame.locator('.tab-body').evaluate((body) => {
      const a = document.createElement('a');
      a.href = 'https://elsewhere.example/steal.csv';
      a.setAttribute('data-export', '');
      a.setAttribute('data-testid', 'foreign-export');
      a.textContent = 'foreign';
      body.prepend(a);
    });
    await frame.getByTestId('foreign-export').click();
    await expect.poll(() => foreign.length).toBeGreaterThan(0);
    for (const r of foreign) {
      expect(r.navigation, 'a plain navigation, not a fetch with the session').toBe(true);
      expect(r.headers['x-credits-session']).toBeUndefined();
      expect(r.headers['access-control-request-headers'] ?? '').not.toContain('x-credits-session');
    }
  });

  test('Change Plan asks the platform to open its chat', async ({ page, baseURL }) => {
    await blockFrameCookies(page, baseURL!);
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/plan`);
    const frame = page.frameLocator('#credits');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await frame.getByRole('button', { name: 'Change Plan' }).click();
    await frame.locator('#request-message').fill('Embedded request');
    await frame.getByRole('button', { name: 'Send request' }).click();
    await expect(frame.getByTestId('request-sent')).toBeVisible();
    await expect.poll(async () => (await ofType(page, 'credits:open-chat')).length).toBe(1);
    const [chat] = await ofType(page, 'credits:open-chat');
    expect(chat.data).toMatchObject({ intent: 'change_plan', message: 'Embedded request' });
  });

  test('a refreshed token keeps the session without a reload', async ({ page, baseURL }) => {
    await blockFrameCookies(page, baseURL!);
    const sessions: string[] = [];
    page.on('request', (r) => {
      const s = r.headers()['x-credits-session'];
      if (r.url().includes('/rpc/') && s) sessions.push(s);
    });
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/plan`);
    const frame = page.frameLocator('#credits');
    await expect(frame.locator('html')).toHaveAttribute('data-hydrated', 'true');
    await frame.getByRole('link', { name: 'Credits', exact: true }).click();
    await expect(frame.getByTestId('credits-total')).toBeVisible();
    const first = sessions[sessions.length - 1];
    expect(first).toBeTruthy();
    const refreshed = page.waitForResponse((r) => r.url().includes('/rpc/refresh-session'));
    await page.evaluate(([o, t]) => (window as any).sendToFrame({ type: 'credits:token', token: t }, o), [baseURL, handoffToken()]);
    expect((await refreshed).status()).toBe(200);
    await frame.getByRole('link', { name: 'Conversations', exact: true }).click();
    await expect(frame.getByTestId('conversations-total')).toBeVisible();
    expect(sessions[sessions.length - 1]).not.toBe(first);
    expect(await ofType(page, 'credits:session-expired')).toEqual([]);
  });

  test('an expired token shows the message and tells the platform', async ({ page, baseURL, problems }) => {
    await blockFrameCookies(page, baseURL!);
    await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken({}, -600)}&next=/usage/credits`);
    const frame = page.frameLocator('#credits');
    await expect(frame.getByTestId('session-expired')).toContainText('Your session expired — reopen it from the platform');
    await expect.poll(async () => (await ofType(page, 'credits:session-expired')).length).toBeGreaterThan(0);
    // A fresh token from the platform brings the same view back.
    await page.evaluate(([o, t]) => (window as any).sendToFrame({ type: 'credits:token', token: t }, o), [baseURL, handoffToken()]);
    await expect(frame.getByTestId('credits-total')).toBeVisible();
    // The refused entry's own 401 (console and response) is expected; nothing else may fail.
    for (let i = problems.length - 1; i >= 0; i--) {
      if (problems[i].includes('401')) problems.splice(i, 1);
    }
  });
});

test('the example host page frames only an http(s) address on a dashboard origin', async ({ page, baseURL }) => {
  let dialogs = 0;
  page.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  for (const src of ['javascript:alert(document.domain)', 'https://evil.example/embed', 'data:text/html,<script>alert(1)</script>']) {
    await host(page, hostOrigin, src);
    await expect(page.locator('#refused')).toBeVisible();
    expect(await page.locator('#credits').getAttribute('src')).toBeNull();
  }
  expect(dialogs).toBe(0);
  await host(page, hostOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/plan`);
  await expect(page.frameLocator('#credits').locator('html')).toHaveAttribute('data-hydrated', 'true');
});

test('an origin not in the list cannot frame the dashboard, nor anyone a standalone page', async ({ page, baseURL, problems }) => {
  // Chromium says why it refused each frame: that is the state to wait for.
  const refusals = () => problems.filter((p) => /frame-ancestors|X-Frame-Options|ERR_BLOCKED/i.test(p)).length;
  await host(page, strangerOrigin, `${baseURL}/embed?token=${handoffToken()}&next=/usage/plan`);
  await expect.poll(refusals).toBeGreaterThan(0);
  const inner = page.frames().find((f) => f.url().startsWith(baseURL!));
  const shown = inner ? await inner.locator('[data-testid="credits-left"]').count().catch(() => 0) : 0;
  expect(shown).toBe(0);
  const before = refusals();
  await host(page, hostOrigin, `${baseURL}/usage/plan`);
  await expect.poll(refusals).toBeGreaterThan(before);
  const standalone = page.frames().find((f) => f.url().startsWith(baseURL!));
  const shown2 = standalone ? await standalone.locator('[data-testid="credits-left"]').count().catch(() => 0) : 0;
  expect(shown2).toBe(0);
  // Chromium reports the refused frames; those are the point of this test.
  for (let i = problems.length - 1; i >= 0; i--) {
    if (/frame|Content Security Policy|X-Frame-Options|ERR_BLOCKED/i.test(problems[i])) problems.splice(i, 1);
  }
});
