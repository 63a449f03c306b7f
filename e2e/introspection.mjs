// Introspection as schema tools run it: graphql-js's standard query, the
// schema rebuilt from its answer and printed, compared with schema.graphqls,
// descriptions and directives included.
import { readFile } from 'node:fs/promises';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { Suite, assertEqual, post } from './lib.mjs';

const suite = new Suite();
const print = (schema) => printSchema(lexicographicSortSchema(schema));

await suite.check('the introspected schema is schema.graphqls', async () => {
  const query = getIntrospectionQuery({ descriptions: true, directiveIsRepeatable: true, specifiedByUrl: true });
  const { status, body } = await post(query);
  assertEqual(status, 200, 'status');
  assertEqual(body.errors, undefined, 'errors');
  const got = print(buildClientSchema(body.data));
  const want = print(buildSchema(await readFile(new URL('../schema.graphqls', import.meta.url), 'utf8')));
  if (got !== want) {
    const g = got.split('\n');
    const w = want.split('\n');
    const i = g.findIndex((line, i) => line !== w[i]);
    throw new Error(`the schemas differ from line ${i + 1}:\n got: ${g[i]}\nwant: ${w[i]}`);
  }
});

suite.report();
