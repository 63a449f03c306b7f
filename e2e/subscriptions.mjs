// Subscriptions over websockets: the graphql-ws client on
// graphql-transport-ws, hostile messages on a raw socket with the close
// codes of that protocol, and the legacy graphql-ws protocol of
// subscriptions-transport-ws.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Suite, addItem, adminToken, assert, assertEqual, post, serverURL, within } from './lib.mjs';

const wsURL = `${serverURL.replace(/^http/, 'ws')}/graphql`;
const suite = new Suite();

/**
 * Stream is one operation on a graphql-ws client: it keeps every result,
 * and `until` waits for a condition on them.
 */
class Stream {
  results = [];
  completed = false;
  error = null;
  #waiters = [];

  constructor(client, query) {
    this.dispose = client.subscribe(
      { query },
      {
        next: (r) => this.#push(() => this.results.push(r)),
        error: (e) => this.#push(() => (this.error = e)),
        complete: () => this.#push(() => (this.completed = true)),
      },
    );
  }

  #push(change) {
    change();
    this.#waiters = this.#waiters.filter((w) => !w());
  }

  /** until resolves once pred(this) holds, or rejects after ms. */
  until(pred, what, ms = 10_000) {
    return within(ms, what, new Promise((resolve) => {
      const w = () => pred(this) && (resolve(), true);
      if (!w()) this.#waiters.push(w);
    }));
  }

  /** names are the names of the itemAdded events received. */
  get names() {
    return this.results.map((r) => r.data?.itemAdded?.name);
  }
}

/** client returns a graphql-ws client with these connection params. */
function client(connectionParams) {
  const c = createClient({ url: wsURL, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
  c.closed = new Promise((resolve) => c.on('closed', (e) => resolve(e.code)));
  return c;
}

/**
 * withClient runs fn with a client of these connection params, disposes
 * of the client however fn ends, and returns it.
 */
async function withClient(connectionParams, fn) {
  const c = client(connectionParams);
  try {
    await fn(c);
  } finally {
    await c.dispose();
  }
  return c;
}

/**
 * untilLive adds probe items until every stream has received one: no
 * message of the protocol says that a subscription has started.
 */
async function untilLive(streams) {
  for (let i = 0; !streams.every((s) => s.results.length > 0); i++) {
    assert(i < 100, 'the subscriptions did not start');
    await addItem(`probe ${i}`);
    await Promise.all(streams.map((s) => s.until((s) => s.results.length > 0, 'probe', 100))).catch(() => {});
  }
}

/** query runs a single-result operation over the socket of c. */
async function query(c, q) {
  const s = new Stream(c, q);
  await s.until((s) => s.completed || s.error, `${q} to complete`);
  assert(!s.error, `${q}: ${JSON.stringify(s.error)}`);
  assertEqual(s.results.length, 1, `results of ${q}`);
  return s.results[0];
}

await suite.check('several subscriptions on one socket get every item, in order', async () => {
  const c = await withClient({ Authorization: `Bearer ${adminToken}` }, async (c) => {
    const streams = [
      new Stream(c, 'subscription { itemAdded { id name } }'),
      new Stream(c, 'subscription A { itemAdded { name createdBy { name } } }'),
      new Stream(c, 'subscription B { itemAdded { name createdAt } }'),
    ];
    await untilLive(streams);
    const want = Array.from({ length: 25 }, (_, i) => `ws ${i}`);
    for (const name of want) await addItem(name);
    for (const s of streams) {
      await s.until((s) => s.names.includes(want.at(-1)), 'the last item');
      const got = s.names.slice(s.names.indexOf(want[0]));
      assertEqual(got, want, 'items after the probes');
      assert(!s.error && !s.completed, 'a running subscription ended');
    }
    assertEqual(streams[1].results.at(-1).data.itemAdded.createdBy, { name: 'admin' }, 'createdBy');

    // A client that stops one subscription still gets the others'.
    streams[0].dispose();
    await addItem('after dispose');
    await streams[1].until((s) => s.names.includes('after dispose'), 'an item after dispose');
    assert(!streams[0].names.includes('after dispose'), 'a disposed subscription got an item');
  });
  assertEqual(await within(5000, 'close', c.closed), 1000, 'close code of a disposed client');
});

await suite.check('a token in connection_init, as Authorization or as token', async () => {
  const { body } = await post('mutation { createToken(user: "ws-user") }', {}, adminToken);
  const userToken = body.data.createToken;
  for (const [params, want] of [
    [{ Authorization: `Bearer ${userToken}` }, { me: { name: 'ws-user', role: 'USER' } }],
    [{ token: adminToken }, { me: { name: 'admin', role: 'ADMIN' } }],
  ]) {
    await withClient(params, async (c) => {
      assertEqual((await query(c, '{ me { name role } }')).data, want, `me with ${Object.keys(params)[0]}`);
    });
  }
});

await suite.check('without a token, subscriptions work and @auth fields are UNAUTHENTICATED', async () => {
  await withClient(undefined, async (c) => {
    const r = await query(c, '{ me { name } }');
    assertEqual(r.errors?.map((e) => e.extensions?.code), ['UNAUTHENTICATED'], 'codes');
    const s = new Stream(c, 'subscription { itemAdded { name } }');
    await untilLive([s]);
    await addItem('anonymous');
    await s.until((s) => s.names.includes('anonymous'), 'the item');
  });
});

await suite.check('an invalid subscription ends with an error message', async () => {
  await withClient(undefined, async (c) => {
    const s = new Stream(c, 'subscription { nope }');
    await s.until((s) => s.error, 'the error');
    assertEqual(s.error.map((e) => e.extensions?.code), ['GRAPHQL_VALIDATION_FAILED'], 'codes');
  });
});

/**
 * rawClose opens a raw socket on subprotocol, optionally acknowledged
 * first, sends messages and returns the code the server closes it with.
 */
function rawClose(messages, { init = false, subprotocol = 'graphql-transport-ws' } = {}) {
  return within(5000, `close after ${messages}`, new Promise((resolve, reject) => {
    const ws = new WebSocket(wsURL, subprotocol);
    const sendAll = () => messages.forEach((m) => ws.send(m));
    ws.on('open', () => (init ? ws.send('{"type":"connection_init"}') : sendAll()));
    ws.on('message', (data) => {
      if (init && JSON.parse(data).type === 'connection_ack') sendAll();
    });
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  }));
}

const hostile = [
  ['connection_init payload a string', ['{"type":"connection_init","payload":"x"}'], false, 4400],
  ['connection_init payload an array', ['{"type":"connection_init","payload":[]}'], false, 4400],
  ['a message that is not JSON', ['not json'], true, 4400],
  ['a message with no type', ['{"id":"1","payload":{}}'], true, 4400],
  ['a message of an unknown type', ['{"type":"subscribe_please"}'], true, 4400],
  ['subscribe before connection_ack', ['{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }"}}'], false, 4401],
  ['a second connection_init', ['{"type":"connection_init"}'], true, 4429],
  [
    'subscribe with the id of a running subscription',
    Array(2).fill('{"type":"subscribe","id":"1","payload":{"query":"subscription { itemAdded { id } }"}}'),
    true,
    4409,
  ],
];
for (const [name, messages, init, want] of hostile) {
  await suite.check(`close ${want}: ${name}`, async () => {
    assertEqual(await rawClose(messages, { init }), want, 'close code');
  });
}

await suite.check('the legacy graphql-ws protocol (subscriptions-transport-ws)', async () => {
  const ws = new WebSocket(wsURL, 'graphql-ws');
  const messages = [];
  let waiter = null; // the pending next, if any
  ws.on('message', (data) => {
    messages.push(JSON.parse(data));
    waiter?.();
  });
  /** next takes the first message of that type and id, waiting up to ms for it. */
  const next = (type, id, ms = 5000) =>
    within(ms, `legacy ${type} ${id ?? ''}`, new Promise((resolve) => {
      (waiter = () => {
        const i = messages.findIndex((m) => m.type === type && m.id === id);
        if (i < 0) return;
        waiter = null;
        resolve(messages.splice(i, 1)[0]);
      })();
    })).finally(() => (waiter = null));
  await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
  try {
    assertEqual(ws.protocol, 'graphql-ws', 'subprotocol');
    ws.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: `Bearer ${adminToken}` } }));
    await next('connection_ack');
    await next('ka');
    ws.send(JSON.stringify({ id: 'q', type: 'start', payload: { query: '{ me { name } }' } }));
    assertEqual((await next('data', 'q')).payload, { data: { me: { name: 'admin' } } }, 'me');
    await next('complete', 'q');

    ws.send(JSON.stringify({ id: 's', type: 'start', payload: { query: 'subscription { itemAdded { name } }' } }));
    for (let i = 0; ; i++) {
      // Probe until the subscription has started.
      assert(i < 100, 'the legacy subscription did not start');
      await addItem(`legacy probe ${i}`);
      if (await next('data', 's', 200).then(() => true, () => false)) break;
    }
    await addItem('legacy');
    for (;;) {
      const m = await next('data', 's');
      if (m.payload.data.itemAdded.name === 'legacy') break;
    }
    ws.send(JSON.stringify({ id: 's', type: 'stop' }));
    await next('complete', 's');
    ws.send(JSON.stringify({ type: 'connection_terminate' }));
    const code = await within(5000, 'close', new Promise((resolve) => ws.on('close', resolve)));
    assertEqual(code, 1000, 'close code after connection_terminate');
  } finally {
    ws.terminate();
  }
});

suite.report();
