// GraphQL over Server-Sent Events with the graphql-sse client, in both of
// its modes: distinct connections (one event stream per operation) and
// single connection (a reservation, one stream, operations by POST,
// completion by DELETE). Queries, mutations and subscriptions, tokens in
// headers, errors as the client sees them.
import { createClient } from 'graphql-sse';
import { Suite, addItem, adminToken, assert, assertEqual, graphqlURL, within } from './lib.mjs';

const suite = new Suite();

/** client returns a graphql-sse client; retries off, so errors surface. */
function client(opts = {}) {
  return createClient({ url: graphqlURL, retryAttempts: 0, ...opts });
}

/** once runs an operation to its end and returns its results. */
async function once(c, payload) {
  const results = [];
  for await (const r of c.iterate(payload)) results.push(r);
  return results;
}

/** firstN takes the first n results of a subscription, then completes it. */
async function firstN(c, payload, n) {
  const results = [];
  const it = c.iterate(payload);
  for await (const r of it) {
    results.push(r);
    if (results.length === n) break; // return() completes the operation
  }
  return results;
}

/** lastID is the ID of the newest item, so that subscriptions resume after it. */
async function lastID(c) {
  let after = null;
  let id = '0';
  for (;;) {
    const [{ data }] = await once(c, {
      query: 'query($a: String) { items(first: 100, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }',
      variables: { a: after },
    });
    id = data.items.nodes.at(-1)?.id ?? id;
    if (!data.items.pageInfo.hasNextPage) return id;
    after = data.items.pageInfo.endCursor;
  }
}

for (const singleConnection of [false, true]) {
  const mode = singleConnection ? 'single connection' : 'distinct connections';
  const c = client({ singleConnection, headers: { authorization: `Bearer ${adminToken}` } });

  await suite.check(`${mode}: a query`, async () => {
    const results = await within(5000, 'query', once(c, { query: '{ item(id: "1") { id name } }' }));
    assertEqual(results, [{ data: { item: { id: '1', name: 'Apple' } } }], 'results');
  });

  await suite.check(`${mode}: a mutation with the token in a header`, async () => {
    const results = await within(5000, 'mutation', once(c, {
      query: 'mutation($n: String!) { addItem(input: {name: $n}) { name createdBy { name } } }',
      variables: { n: `sse ${mode}` },
    }));
    assertEqual(results, [{ data: { addItem: { name: `sse ${mode}`, createdBy: { name: 'admin' } } } }], 'results');
  });

  await suite.check(`${mode}: a subscription gets every item added, in order`, async () => {
    const after = await lastID(c);
    const sub = firstN(c, { query: 'subscription($a: ID) { itemAdded(after: $a) { name } }', variables: { a: after } }, 3);
    for (const n of ['a', 'b', 'c']) await addItem(`${mode} ${n}`);
    const results = await within(10_000, 'three events', sub);
    assertEqual(results.map((r) => r.data.itemAdded.name), ['a', 'b', 'c'].map((n) => `${mode} ${n}`), 'names');
  });

  await suite.check(`${mode}: two subscriptions at once, then complete`, async () => {
    const after = await lastID(c);
    const payload = { query: 'subscription($a: ID) { itemAdded(after: $a) { id } }', variables: { a: after } };
    const both = Promise.all([firstN(c, payload, 2), firstN(c, payload, 2)]);
    await addItem(`${mode} x`);
    await addItem(`${mode} y`);
    const [one, two] = await within(10_000, 'two events each', both);
    assertEqual(one, two, 'both subscriptions');
  });

  await suite.check(`${mode}: errors reach the client`, async () => {
    const noToken = client({ singleConnection });
    try {
      const [r] = await within(5000, 'me', once(noToken, { query: '{ me { name } }' }));
      assertEqual(r.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', 'code of me without a token');
      if (!singleConnection) {
        // Distinct connections report validation errors in the stream.
        const [v] = await within(5000, 'invalid', once(noToken, { query: '{ nope }' }));
        assertEqual(v.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED', 'code of an invalid query');
        assert(!('data' in v), 'no data key when nothing ran');
      } else {
        // Single connection: a refused operation is an HTTP answer, not a
        // 202, which the client reports as an error.
        let failed = false;
        await once(noToken, { query: '{ nope }' }).catch(() => (failed = true));
        assert(failed, 'an invalid query fails');
      }
    } finally {
      noToken.dispose();
    }
  });
  c.dispose();
}

suite.report();
