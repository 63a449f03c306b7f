// A browser's own EventSource, in a real headless Chromium, subscribing
// over GET with Accept: text/event-stream (graphql-sse's distinct
// connections mode), then a query, and a validation error, each as the
// page sees them.
import { chromium } from 'playwright-core';
import { Suite, addItem, assert, assertEqual, serverURL } from './lib.mjs';

const suite = new Suite();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  // Any page of the server's origin: EventSource then needs no CORS.
  await page.goto(`${serverURL}/healthz`);

  /** open starts an EventSource in the page that records its events. */
  async function open(name, query) {
    await page.evaluate(({ name, query }) => {
      const log = (window.__events ??= {});
      log[name] = { events: [], errors: 0, open: false };
      const es = new EventSource(`/graphql?query=${encodeURIComponent(query)}`);
      (window.__sources ??= {})[name] = es;
      es.onopen = () => (log[name].open = true);
      es.addEventListener('next', (e) => log[name].events.push({ event: 'next', data: JSON.parse(e.data) }));
      es.addEventListener('complete', () => {
        log[name].events.push({ event: 'complete' });
        es.close(); // or EventSource reconnects and runs the operation again
      });
      es.onerror = () => log[name].errors++;
    }, { name, query });
  }
  /** events waits until the named source has n events and returns them. */
  async function events(name, n) {
    await page.waitForFunction(({ name, n }) => window.__events?.[name]?.events.length >= n, { name, n });
    return page.evaluate((name) => window.__events[name].events, name);
  }

  await suite.check('a subscription delivers each item added, in order', async () => {
    await open('sub', 'subscription { itemAdded(after: "2") { name } }');
    await page.waitForFunction(() => window.__events.sub.open);
    await addItem('browser one');
    await addItem('browser two');
    await page.waitForFunction(() => window.__events.sub.events.at(-1)?.data?.data?.itemAdded?.name === 'browser two');
    const got = await events('sub', 2);
    const names = got.map((e) => e.data.data.itemAdded.name).filter((n) => n.startsWith('browser '));
    assertEqual(names, ['browser one', 'browser two'], 'names');
    await page.evaluate(() => window.__sources.sub.close());
  });

  await suite.check('a query is one next, then complete', async () => {
    await open('query', '{ item(id: "1") { name } }');
    const got = await events('query', 2);
    assertEqual(got, [{ event: 'next', data: { data: { item: { name: 'Apple' } } } }, { event: 'complete' }], 'events');
  });

  await suite.check('a validation error arrives as an event, not a failed connection', async () => {
    await open('invalid', '{ nope }');
    const got = await events('invalid', 2);
    assertEqual(got[0].data.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', 'code');
    assertEqual(got[1], { event: 'complete' }, 'second event');
    assertEqual(await page.evaluate(() => window.__events.invalid.errors), 0, 'connection errors');
  });

  await suite.check('a subscription over GET without an event stream is refused at once', async () => {
    const status = await page.evaluate(async () => {
      const res = await fetch('/graphql?query=' + encodeURIComponent('subscription { itemAdded { id } }'));
      return res.status;
    });
    assert(status === 400, `status ${status}, want 400`);
  });
} finally {
  await browser.close();
}
suite.report();
