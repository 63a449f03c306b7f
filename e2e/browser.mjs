// GraphiQL in a real headless Chromium: the page loads from the server
// alone, a query typed into the editor runs, and the docs explorer shows
// the schema. Leaves a screenshot in screenshots/playground.png.
import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';
import { Suite, addItem, assert, assertEqual, serverURL } from './lib.mjs';

const suite = new Suite();
const origin = new URL(serverURL).origin;
const screenshot = new URL('./screenshots/playground.png', import.meta.url).pathname;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const blocked = [];
const problems = []; // console errors, page errors, failed requests
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  page.setDefaultTimeout(10_000);
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    blocked.push(url);
    return route.abort();
  });
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));

  await suite.check('the page loads from the server alone', async () => {
    const res = await page.goto(`${serverURL}/`);
    assertEqual(res.status(), 200, 'status of /');
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
    assertEqual(blocked, [], 'requests to other hosts');
  });

  /** typeQuery replaces the editor's text as typed input, then waits until
   * GraphiQL has taken it in: the tab shows the operation's name. */
  async function typeQuery(name, query) {
    const editor = page.locator('.graphiql-query-editor .CodeMirror');
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    // insertText types the text as one input, past the editor's bracket closing.
    await page.keyboard.insertText(query);
    assertEqual(await editor.evaluate((el) => el.CodeMirror.getValue()), query, 'editor content');
    await page.locator('.graphiql-tab-button', { hasText: name }).waitFor();
  }

  /** result waits for the result pane to show text, and returns its JSON. */
  async function result(text) {
    const response = page.locator('.graphiql-response');
    await response.getByText(text).waitFor();
    return JSON.parse(await response.locator('.CodeMirror').evaluate((el) => el.CodeMirror.getValue()));
  }

  await suite.check('Ctrl-Enter runs the query too', async () => {
    await typeQuery('Second', 'query Second { item(id: "2") { name } }');
    await page.keyboard.press('Control+Enter');
    assertEqual(await result('"Banana"'), { data: { item: { name: 'Banana' } } }, 'result pane');
  });

  await suite.check('a subscription runs over the websocket and shows each added item', async () => {
    await typeQuery('Live', 'subscription Live { itemAdded { name } }');
    await page.keyboard.press('Control+Enter');
    const response = page.locator('.graphiql-response');
    // No message says that a subscription has started: add items until one shows.
    let shown = false;
    for (let i = 0; !shown; i++) {
      assert(i < 50, 'no added item showed up');
      await addItem(`browser ${i}`);
      shown = await response.getByText(`"browser ${i}"`).waitFor({ timeout: 200 }).then(() => true, () => false);
    }
    await addItem('Cherry');
    await response.getByText('"Cherry"').waitFor();
    await page.getByRole('button', { name: 'Stop query (Ctrl-Enter)' }).click();
  });

  await suite.check('a query typed into the editor runs with the run button and shows Apple', async () => {
    await typeQuery('Fruit', 'query Fruit { item(id: "1") { name } }');
    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    assertEqual(await result('"Apple"'), { data: { item: { name: 'Apple' } } }, 'result pane');
  });

  await suite.check('the docs explorer shows Query.items with its description', async () => {
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByRole('link', { name: 'Query' }).first().click();
    await docs.locator('.graphiql-doc-explorer-field-name', { hasText: /^items$/ }).waitFor();
    await docs.getByText('All items, in the order').waitFor();
    await docs.locator('.graphiql-doc-explorer-field-name', { hasText: /^items$/ }).click();
    await docs.locator('.graphiql-doc-explorer-title', { hasText: 'items' }).waitFor();
    await docs.getByText('ItemConnection').first().waitFor();
    await docs.locator('.graphiql-doc-explorer-back').click(); // back to Query, for the screenshot
    await docs.getByText('All items, in the order').waitFor();
  });

  await suite.check('no console errors, page errors or failed requests', async () => {
    assertEqual(problems, [], 'problems');
    assertEqual(blocked, [], 'requests to other hosts');
  });

  await mkdir(new URL('./screenshots/', import.meta.url), { recursive: true });
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
suite.report({ blocked: blocked.length, screenshot });
