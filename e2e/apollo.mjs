// Apollo Client 4, as a web application would use it: HttpLink over fetch,
// automatic persisted queries over POST and GET, a normalised cache with
// Relay-style pagination, tokens in headers, and the error codes of the
// API as the client sees them.
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { relayStylePagination } from '@apollo/client/utilities';
import { filter, firstValueFrom } from 'rxjs';
import { Suite, addItem, adminToken, assert, assertEqual, graphqlURL } from './lib.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');

/** requests records what each request that reaches fetch carries. */
const requests = [];
async function recordingFetch(url, init) {
  const u = new URL(url);
  const body = init.body ? JSON.parse(init.body) : null;
  const res = await fetch(url, init);
  requests.push({
    method: init.method,
    hasQuery: Boolean(body?.query ?? u.searchParams.get('query')),
    hasHash: Boolean(body?.extensions?.persistedQuery ?? u.searchParams.get('extensions')),
    status: res.status,
  });
  return res;
}

/** client returns an Apollo Client whose HttpLink has these options. */
function client({ apq = false, useGETForHashedQueries = false, httpOptions = {} } = {}) {
  const http = new HttpLink({ uri: graphqlURL, fetch: recordingFetch, ...httpOptions });
  const link = apq ? ApolloLink.from([new PersistedQueryLink({ sha256, useGETForHashedQueries }), http]) : http;
  return new ApolloClient({
    link,
    cache: new InMemoryCache({ typePolicies: { Query: { fields: { items: relayStylePagination() } } } }),
  });
}

/** codeOf returns the extensions.code of the errors that a promise rejects with. */
async function codesOf(promise) {
  try {
    await promise;
  } catch (err) {
    assert(CombinedGraphQLErrors.is(err), `want GraphQL errors, got ${err}`);
    return err.errors.map((e) => e.extensions?.code);
  }
  throw new Error('the operation succeeded; want errors');
}

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
const suite = new Suite();
let pages = 0;
let userToken;

await suite.check('pagination with fetchMore walks every item, in order, once', async () => {
  for (let i = 0; i < 150; i++) await addItem(`apollo ${i}`);
  const ITEMS = gql`
    query Items($first: Int, $after: String) {
      items(first: $first, after: $after) {
        totalCount
        edges { cursor node { id name } }
        pageInfo { hasNextPage endCursor }
      }
    }
  `;
  // As a mounted component would, the query stays watched, and each merged
  // list is read from what it emits.
  const query = client().watchQuery({ query: ITEMS, variables: { first: 40 } });
  const emitted = (n) =>
    firstValueFrom(query.pipe(filter((r) => r.dataState === 'complete' && r.data.items.edges.length >= n)));
  const watching = query.subscribe(() => {});
  try {
    let data = (await emitted(1)).data;
    pages = 1;
    while (data.items.pageInfo.hasNextPage) {
      const next = emitted(data.items.edges.length + 1);
      await query.fetchMore({ variables: { after: data.items.pageInfo.endCursor } });
      data = (await next).data;
      pages++;
      assert(pages < 10, 'pagination does not end');
    }
    const ids = data.items.edges.map((e) => e.node.id);
    assertEqual(data.items.totalCount, 152, 'totalCount');
    assertEqual(ids, Array.from({ length: 152 }, (_, i) => String(i + 1)), 'ids of the merged pages');
    assertEqual(data.items.edges[2].node.name, 'apollo 0', 'first added item');
    assertEqual(pages, 4, 'pages of 40');
  } finally {
    watching.unsubscribe();
  }
});

await suite.check('createToken as admin, then me and addItem with the USER token', async () => {
  const c = client();
  const { data } = await c.mutate({
    mutation: gql`mutation { createToken(user: "apollo-user") }`,
    context: bearer(adminToken),
  });
  userToken = data.createToken;
  const me = await c.query({ query: gql`{ me { name role } }`, context: bearer(userToken) });
  assertEqual(me.data.me, { __typename: 'User', name: 'apollo-user', role: 'USER' }, 'me');
  const added = await c.mutate({
    mutation: gql`mutation($input: AddItemInput!) { addItem(input: $input) { id name createdBy { name } } }`,
    variables: { input: { name: '  Apollo item  ' } },
    context: bearer(userToken),
  });
  assertEqual(added.data.addItem.name, 'Apollo item', 'trimmed name');
  assertEqual(added.data.addItem.createdBy.name, 'apollo-user', 'createdBy');
});

await suite.check('the header `token: <token>` works too', async () => {
  const me = await client().query({ query: gql`{ me { name } }`, context: { headers: { token: userToken } } });
  assertEqual(me.data.me.name, 'apollo-user', 'me');
});

const errorCases = [
  ['UNAUTHENTICATED without a token', gql`{ me { name } }`, {}, 'UNAUTHENTICATED'],
  ['UNAUTHENTICATED with an unknown token', gql`{ me { name } }`, bearer('not-a-token'), 'UNAUTHENTICATED'],
  ['FORBIDDEN for a USER', gql`mutation { createToken(user: "x") }`, 'user', 'FORBIDDEN'],
  ['BAD_USER_INPUT for first: 101', gql`{ items(first: 101) { totalCount } }`, {}, 'BAD_USER_INPUT'],
  ['BAD_USER_INPUT for an empty name', gql`mutation { addItem(input: {name: " "}) { id } }`, 'user', 'BAD_USER_INPUT'],
  ['GRAPHQL_VALIDATION_FAILED for an unknown field', gql`{ nope }`, {}, 'GRAPHQL_VALIDATION_FAILED'],
  ['GRAPHQL_VALIDATION_FAILED for a number as a String', gql`{ search(query: 5) { totalCount } }`, {}, 'GRAPHQL_VALIDATION_FAILED'],
];
for (const [name, doc, context, want] of errorCases) {
  await suite.check(`error ${name}`, async () => {
    const ctx = context === 'user' ? bearer(userToken) : context;
    const isMutation = doc.definitions[0].operation === 'mutation';
    const c = client();
    const op = isMutation ? c.mutate({ mutation: doc, context: ctx }) : c.query({ query: doc, context: ctx });
    assertEqual(await codesOf(op), [want], 'codes');
  });
}

await suite.check('error GRAPHQL_PARSE_FAILED for a document that does not parse', async () => {
  // Apollo parses documents itself; a custom print sends what it would not.
  const c = client({ httpOptions: { print: () => '{ items { ' } });
  assertEqual(await codesOf(c.query({ query: gql`{ items { totalCount } }` })), ['GRAPHQL_PARSE_FAILED'], 'codes');
});

await suite.check('error PERSISTED_QUERY_NOT_FOUND for an unknown hash, over POST and GET', async () => {
  const extensions = { persistedQuery: { version: 1, sha256Hash: sha256('never sent') } };
  const post = await fetch(graphqlURL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ extensions }),
  });
  const get = await fetch(`${graphqlURL}?extensions=${encodeURIComponent(JSON.stringify(extensions))}`);
  for (const res of [post, get]) {
    assertEqual(res.status, 200, 'status');
    const body = await res.json();
    assertEqual(body.errors?.map((e) => e.extensions?.code), ['PERSISTED_QUERY_NOT_FOUND'], 'codes');
    assert(!('data' in body), 'a response where nothing ran has no data key');
  }
});

for (const useGET of [false, true]) {
  const how = useGET ? 'GET' : 'POST';
  await suite.check(`automatic persisted queries over ${how}`, async () => {
    const c = client({ apq: true, useGETForHashedQueries: useGET });
    const query = gql`query APQ${how} { item(id: "1") { id name } }`;
    requests.length = 0;
    const first = await c.query({ query, fetchPolicy: 'network-only' });
    const second = await c.query({ query, fetchPolicy: 'network-only' });
    assertEqual(first.data.item.name, 'Apple', 'first answer');
    assertEqual(second.data.item.name, 'Apple', 'second answer');
    assertEqual(
      requests,
      [
        { method: how, hasQuery: false, hasHash: true, status: 200 }, // unknown hash
        { method: 'POST', hasQuery: true, hasHash: true, status: 200 }, // registers the query
        { method: how, hasQuery: false, hasHash: true, status: 200 }, // the hash alone now works
      ],
      'requests',
    );
  });
}

suite.report({ pages });
