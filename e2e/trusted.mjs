// Trusted documents, built as a real client builds them: the operations
// below are this client's code, e2e_test.go runs Apollo's
// generate-persisted-query-manifest over this file at test time, and the
// server starts with --trusted-documents MANIFEST --only-trusted-documents.
// Apollo Client then sends hashes alone; anything else is refused.
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { generatePersistedQueryIdsFromManifest } from '@apollo/persisted-query-lists';
import { parse } from 'graphql';
import { Suite, adminToken, assert, assertEqual, graphqlURL } from './lib.mjs';

// The client's operations: what the manifest holds.
const ITEM = gql`
  query TrustedItem($id: ID!) {
    item(id: $id) {
      id
      name
    }
  }
`;
const ADD = gql`
  mutation TrustedAdd($name: String!) {
    addItem(input: { name: $name }) {
      id
      name
    }
  }
`;

const manifest = JSON.parse(readFileSync(process.env.MANIFEST, 'utf8'));
const suite = new Suite();

/** sent records the body or query string of each request. */
const sent = [];
async function recordingFetch(url, init) {
  const u = new URL(url);
  sent.push({ method: init.method ?? 'GET', body: init.body ? JSON.parse(init.body) : Object.fromEntries(u.searchParams) });
  return fetch(url, init);
}

function client({ persisted = true, useGETForHashedQueries = false } = {}) {
  const http = new HttpLink({ uri: graphqlURL, fetch: recordingFetch, headers: { authorization: `Bearer ${adminToken}` } });
  const link = persisted
    ? ApolloLink.from([
        new PersistedQueryLink({ ...generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest }), useGETForHashedQueries }),
        http,
      ])
    : http;
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

/** raw posts a body and returns the status and the decoded answer. */
async function raw(body, method = 'POST') {
  const res =
    method === 'POST'
      ? await fetch(graphqlURL, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify(body) })
      : await fetch(`${graphqlURL}?${new URLSearchParams(body)}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return { status: res.status, body: await res.json() };
}

const idOf = (name) => manifest.operations.find((op) => op.name === name)?.id;

await suite.check('the manifest the tool made holds the client operations, each id the sha256 of its body', async () => {
  assertEqual(manifest.format, 'apollo-persisted-query-manifest', 'format');
  assertEqual(manifest.operations.map((op) => op.name).sort(), ['TrustedAdd', 'TrustedItem'], 'operations');
  for (const op of manifest.operations) {
    assertEqual(op.id, createHash('sha256').update(op.body).digest('hex'), `id of ${op.name}`);
  }
});

await suite.check('Apollo Client sends a query by its hash alone, and gets the answer', async () => {
  sent.length = 0;
  const { data } = await client().query({ query: ITEM, variables: { id: '1' } });
  assertEqual(data.item.name, 'Apple', 'name');
  assertEqual(sent.length, 1, 'requests');
  assert(!sent[0].body.query, 'the query text was sent');
  assertEqual(sent[0].body.extensions?.persistedQuery?.sha256Hash, idOf('TrustedItem'), 'hash sent');
});

await suite.check('a mutation by its hash, with the token in a header', async () => {
  const { data } = await client().mutate({ mutation: ADD, variables: { name: 'trusted' } });
  assertEqual(data.addItem.name, 'trusted', 'name');
});

await suite.check('a query by hash over GET', async () => {
  sent.length = 0;
  const { data } = await client({ useGETForHashedQueries: true }).query({ query: ITEM, variables: { id: '2' } });
  assertEqual(data.item.name, 'Banana', 'name');
  assertEqual(sent[0].method, 'GET', 'method');
});

await suite.check('documentId (GraphQL over HTTP persisted documents), over POST and GET', async () => {
  const post = await raw({ documentId: `sha256:${idOf('TrustedItem')}`, variables: { id: '1' } });
  assertEqual(post.body, { data: { item: { id: '1', name: 'Apple', __typename: 'Item' } } }, 'POST answer');
  const get = await raw({ documentId: idOf('TrustedItem'), variables: JSON.stringify({ id: '2' }) }, 'GET');
  assertEqual(get.body, { data: { item: { id: '2', name: 'Banana', __typename: 'Item' } } }, 'GET answer');
  const mutation = await raw({ documentId: idOf('TrustedAdd'), variables: JSON.stringify({ name: 'x' }) }, 'GET');
  assertEqual(mutation.status, 405, 'a mutation over GET');
});

await suite.check('any other document is refused with PERSISTED_QUERY_NOT_FOUND', async () => {
  for (const [what, body] of [
    ['another query', { query: '{ item(id: "2") { name } }' }],
    ['introspection', { query: '{ __schema { queryType { name } } }' }],
    ['an unknown documentId', { documentId: `sha256:${'0'.repeat(64)}` }],
    ['APQ registration', { query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update('{ __typename }').digest('hex') } } }],
  ]) {
    const { status, body: answer } = await raw(body);
    assertEqual([status, answer.errors?.[0]?.extensions?.code, 'data' in answer], [200, 'PERSISTED_QUERY_NOT_FOUND', false], what);
  }
});

await suite.check('Apollo Client without the manifest is refused', async () => {
  try {
    // Not a gql tag: the manifest tool would list it.
    await client({ persisted: false }).query({ query: parse('query Other { item(id: "1") { id } }') });
    throw new Error('the query succeeded');
  } catch (err) {
    assert(CombinedGraphQLErrors.is(err), `want GraphQL errors, got ${err}`);
    assertEqual(err.errors[0].extensions?.code, 'PERSISTED_QUERY_NOT_FOUND', 'code');
  }
});

suite.report();
