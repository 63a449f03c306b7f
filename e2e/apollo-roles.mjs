// Apollo Client 4's normalised cache and a user with two roles: bob holds
// an ADMIN token and a USER token. A cache keeps one User:<id> entity, so
// User.role must be one value wherever a query meets bob (me, an item's
// createdBy): his highest role among his usable tokens, whichever token
// asks; the role a request acts with is currentToken.role. Once his ADMIN
// token is revoked, a network-only query brings both down to USER.
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Suite, adminToken, assert, assertEqual, graphqlURL, post } from './lib.mjs';

const bearer = (token) => ({ headers: { authorization: `Bearer ${token}` } });
const suite = new Suite();
const cache = new InMemoryCache();
const client = new ApolloClient({ link: new HttpLink({ uri: graphqlURL }), cache });

const ROLES = gql`
  query Roles {
    me { id role }
    items(first: 100) { nodes { id createdBy { id role } } }
    currentToken { role }
  }
`;

/** mint makes a token for bob with role, as the bootstrap admin. */
async function mint(role) {
  const { body } = await post('mutation($r: Role!) { createToken(user: "bob", role: $r) }', { r: role }, adminToken);
  assert(!body.errors, `createToken(bob, ${role}): ${JSON.stringify(body.errors)}`);
  return body.data.createToken;
}

/** cachedUser returns the cache's entity for the user with id, and how many User entities there are. */
function cachedUser(id) {
  const all = cache.extract();
  const users = Object.keys(all).filter((k) => k.startsWith('User:'));
  return { user: all[cache.identify({ __typename: 'User', id })], users };
}

/** checkRoles checks one answer of ROLES and the cache after it. */
function checkRoles(data, itemID, wantUserRole, wantTokenRole) {
  const bob = data.me.id;
  assertEqual(data.me.role, wantUserRole, 'me.role');
  const item = data.items.nodes.find((n) => n.id === itemID);
  assert(item, `item ${itemID} is not in items: ${JSON.stringify(data.items.nodes)}`);
  assertEqual(item.createdBy, { __typename: 'User', id: bob, role: wantUserRole }, `createdBy of item ${itemID}`);
  assertEqual(data.currentToken.role, wantTokenRole, 'currentToken.role');
  const { user, users } = cachedUser(bob);
  assert(user, `no User:${bob} in the cache: ${JSON.stringify(cache.extract())}`);
  assertEqual(users, [cache.identify({ __typename: 'User', id: bob })], 'User entities in the cache');
  assertEqual(user.role, wantUserRole, `role of the cached User:${bob}`);
}

let bobAdmin, bobUser, itemID;

await suite.check('bob gets an ADMIN and a USER token and adds an item with the ADMIN one', async () => {
  bobAdmin = await mint('ADMIN');
  bobUser = await mint('USER');
  const { data } = await client.mutate({
    mutation: gql`mutation { addItem(input: {name: "bob's item"}) { id createdBy { name } } }`,
    context: bearer(bobAdmin),
  });
  itemID = data.addItem.id;
  assertEqual(data.addItem.createdBy.name, 'bob', 'createdBy.name');
});

await suite.check('with the USER token: one role for bob in the cache, ADMIN; currentToken.role USER', async () => {
  const { data } = await client.query({ query: ROLES, context: bearer(bobUser), fetchPolicy: 'network-only' });
  checkRoles(data, itemID, 'ADMIN', 'USER');
  // What a component watching the query reads back from the cache.
  checkRoles(client.readQuery({ query: ROLES }), itemID, 'ADMIN', 'USER');
});

await suite.check('after the ADMIN token is revoked, network-only: me.role and the cached User are USER', async () => {
  const { body } = await post('query { tokens(user: "bob") { nodes { id role revokedAt } } }', {}, adminToken);
  assert(!body.errors, `tokens(bob): ${JSON.stringify(body.errors)}`);
  const admins = body.data.tokens.nodes.filter((n) => n.role === 'ADMIN');
  assertEqual(admins.length, 1, "bob's ADMIN tokens");
  const revoked = await post('mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }', { id: admins[0].id }, adminToken);
  assert(!revoked.body.errors && revoked.body.data.revokeToken.revokedAt, `revokeToken: ${JSON.stringify(revoked.body)}`);
  const { data } = await client.query({ query: ROLES, context: bearer(bobUser), fetchPolicy: 'network-only' });
  checkRoles(data, itemID, 'USER', 'USER');
  checkRoles(client.readQuery({ query: ROLES }), itemID, 'USER', 'USER');
});

suite.report();
