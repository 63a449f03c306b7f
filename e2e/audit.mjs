// The graphql-http audit suite: every MUST, SHOULD and MAY of the GraphQL
// over HTTP specification, run against the server. A MAY or SHOULD audit
// that "fails" with status notice/warn still counts as failed here: the
// server is meant to pass them all.
import { serverAudits } from 'graphql-http';
import { Suite, graphqlURL } from './lib.mjs';

const suite = new Suite();
const levels = { MUST: { pass: 0, fail: 0 }, SHOULD: { pass: 0, fail: 0 }, MAY: { pass: 0, fail: 0 } };

for (const audit of serverAudits({ url: graphqlURL, fetchFn: fetch })) {
  const level = audit.name.split(' ')[0];
  await suite.check(`${audit.id} ${audit.name}`, async () => {
    const result = await audit.fn();
    if (result.status !== 'ok') {
      levels[level].fail++;
      let body = '';
      try {
        body = await result.response.text();
      } catch {}
      throw new Error(`${result.status}: ${result.reason} (status ${result.response.status}, body ${body.slice(0, 300)})`);
    }
    levels[level].pass++;
  });
}
suite.report({ levels });
