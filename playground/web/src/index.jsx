// Entry point of the embedded GraphiQL bundle. The page carries its
// configuration in data attributes of #graphiql, so it needs no inline script
// and works under a strict Content-Security-Policy.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { explorerPlugin } from '@graphiql/plugin-explorer';
import { createGraphiQLFetcher } from '@graphiql/toolkit';

import 'graphiql/style.css';
import '@graphiql/plugin-explorer/style.css';
import './index.css';

const defaultQuery = `# Welcome to the items API.
#
# Run a query with Ctrl-Enter (Cmd-Enter on a Mac).
# Put a token in the Headers tab:
#   {"Authorization": "Bearer <token>"}

query FirstItems {
  items(first: 5) {
    nodes {
      id
      name
    }
  }
}
`;

// subscriptionURL turns the HTTP endpoint into the websocket one: same host,
// ws:// under http:// and wss:// under https://.
function subscriptionURL(endpoint) {
  const url = new URL(endpoint, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

const container = document.getElementById('graphiql');
const endpoint = container.dataset.endpoint || '/graphql';

const fetcher = createGraphiQLFetcher({
  url: new URL(endpoint, window.location.href).href,
  // Subscriptions use graphql-ws (protocol graphql-transport-ws); the
  // headers editor's content becomes the connection_init payload.
  subscriptionUrl: subscriptionURL(endpoint),
  // The schema has no @defer or @stream: plain JSON requests are enough.
  enableIncrementalDelivery: false,
});

const plugins = [explorerPlugin()];

// GraphiQL's history saves each run's headers, tokens included, even with
// shouldPersistHeaders off. This storage drops them before they reach
// localStorage; everything else goes through unchanged.
const HISTORY_KEY = 'graphiql:queries';
const ownKeys = () => Object.keys(localStorage).filter((k) => k.startsWith('graphiql:'));
const storage = {
  getItem: (key) => localStorage.getItem(key),
  setItem(key, value) {
    if (key === HISTORY_KEY) {
      try {
        const saved = JSON.parse(value);
        for (const q of saved.queries ?? []) delete q.headers;
        value = JSON.stringify(saved);
      } catch {
        return; // not what GraphiQL writes: keep nothing rather than a token
      }
    }
    localStorage.setItem(key, value);
  },
  removeItem: (key) => localStorage.removeItem(key),
  clear: () => ownKeys().forEach((k) => localStorage.removeItem(k)),
  get length() {
    return ownKeys().length;
  },
};

container.textContent = '';
createRoot(container).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={plugins}
    storage={storage}
    defaultQuery={defaultQuery}
    defaultHeaders=""
    shouldPersistHeaders={false}
  />,
);
