// Apollo Client 4 over HTTP streams, with nothing but HttpLink:
// subscriptions over Apollo's multipart protocol (Accept:
// multipart/mixed;subscriptionSpec=1.0), and @defer read by
// Defer20220824Handler (Accept: multipart/mixed;deferSpec=20220824).
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { Suite, addItem, adminToken, assert, assertEqual, graphqlURL, serverURL } from './lib.mjs';

const suite = new Suite();

/** accepts records the Accept header and response type of each request. */
const exchanges = [];
async function recordingFetch(url, init) {
  const res = await fetch(url, init);
  exchanges.push({ accept: new Headers(init.headers).get('accept'), type: res.headers.get('content-type'), status: res.status });
  return res;
}

const client = new ApolloClient({
  link: new HttpLink({ uri: graphqlURL, fetch: recordingFetch, headers: { authorization: `Bearer ${adminToken}` } }),
  cache: new InMemoryCache(),
  incrementalHandler: new Defer20220824Handler(),
});

/** metric reads a metric of the server. */
async function metric(name) {
  const text = await (await fetch(`${serverURL}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

/** until polls cond for up to 5 s. */
async function until(what, cond) {
  const deadline = Date.now() + 5000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

await suite.check('a subscription over multipart HTTP gets every item added, in order', async () => {
  const names = ['multipart one', 'multipart two', 'multipart three'];
  const events = firstValueFrom(
    client.subscribe({ query: gql`subscription { itemAdded(after: "2") { id name } }` }).pipe(take(3), toArray()),
  );
  await until('the subscription to start', async () => (await metric('itemsapi_subscriptions_active')) === 1);
  for (const n of names) await addItem(n);
  const got = await events;
  assertEqual(got.map((r) => r.data.itemAdded.name), names, 'names');
  const ex = exchanges.at(-1);
  assert(ex.accept.startsWith('multipart/mixed;boundary=graphql;subscriptionSpec=1.0'), `Accept ${ex.accept}`);
  assert(/^multipart\/mixed;.*subscriptionSpec=1.0/.test(ex.type), `Content-Type ${ex.type}`);
  // Unsubscribing (take) aborts the request: the stream ends on the server.
  await until('the subscription to end', async () => (await metric('itemsapi_subscriptions_active')) === 0);
});

await suite.check('two subscriptions at once each get the events', async () => {
  const sub = () =>
    firstValueFrom(client.subscribe({ query: gql`subscription { itemAdded(after: "2") { id } }` }).pipe(take(4), toArray()));
  const both = Promise.all([sub(), sub()]);
  await addItem('multipart four');
  const [a, b] = await both;
  assertEqual(a, b, 'both subscriptions');
});

await suite.check('@defer: the initial data first, then the deferred fragment, merged in the cache', async () => {
  const query = gql`
    query Deferred {
      items(first: 3) {
        nodes {
          id
          ... @defer {
            name
            createdBy { name }
          }
        }
      }
    }
  `;
  // gqlgen 0.17.98 defers the fields that have resolvers (createdBy),
  // sending them as null in the initial payload; the incremental payloads
  // then fill them in.
  const observable = client.watchQuery({ query, fetchPolicy: 'network-only' });
  let emissions = 0;
  const done = firstValueFrom(
    observable.pipe(filter((r) => { emissions++; return r.data?.items?.nodes?.[2]?.createdBy != null; })),
  );
  const watching = observable.subscribe(() => {});
  try {
    const result = await done;
    assertEqual(result.data.items.nodes.map((n) => n.name), ['Apple', 'Banana', 'multipart one'], 'names');
    assertEqual(result.data.items.nodes[2].createdBy, { __typename: 'User', name: 'admin' }, 'createdBy of an added item');
    assert(emissions >= 2, `${emissions} emissions: want the initial data, then the deferred`);
    const ex = exchanges.at(-1);
    assert(ex.accept.startsWith('multipart/mixed;deferSpec=20220824'), `Accept ${ex.accept}`);
    assert(/^multipart\/mixed;.*deferSpec=20220824/.test(ex.type), `Content-Type ${ex.type}`);
  } finally {
    watching.unsubscribe();
  }
});

/** postJSONOnly posts query as a client that takes JSON alone (no multipart). */
function postJSONOnly(query) {
  return fetch(graphqlURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json;q=0.9' },
    body: JSON.stringify({ query }),
  });
}

await suite.check('@defer for a client that takes JSON alone: one answer, inline', async () => {
  const res = await postJSONOnly('{ item(id: "1") { id ... @defer { name } } }');
  assertEqual(res.status, 200, 'status');
  assertEqual(await res.json(), { data: { item: { id: '1', name: 'Apple' } } }, 'body');
});

await suite.check('a subscription sent as plain JSON is refused with 400 at once', async () => {
  const res = await postJSONOnly('subscription { itemAdded { id } }');
  assertEqual(res.status, 400, 'status');
  assertEqual((await res.json()).errors?.[0]?.extensions?.code, 'BAD_REQUEST', 'code');
});

client.stop();
suite.report();
