// Shared helpers of the client scripts. e2e_test.go starts the server and
// runs each script with SERVER_URL and ADMIN_TOKEN set; a script runs its
// checks in order and ends by printing one JSON line:
// {"passed": n, "failed": n, "results": [{"name", "ok", "error"?}], ...}.

export const serverURL = must('SERVER_URL');
export const graphqlURL = `${serverURL}/graphql`;
export const adminToken = must('ADMIN_TOKEN');

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this script through e2e_test.go`);
  return v;
}

/** A list of named checks, run one after the other. */
export class Suite {
  results = [];

  /** check runs fn and records whether it threw. */
  async check(name, fn) {
    try {
      await fn();
      this.results.push({ name, ok: true });
    } catch (err) {
      this.results.push({ name, ok: false, error: String(err?.stack ?? err) });
    }
  }

  /** report prints the summary line, with extra fields, and sets the exit code. */
  report(extra = {}) {
    const passed = this.results.filter((r) => r.ok).length;
    const failed = this.results.length - passed;
    console.log(JSON.stringify({ passed, failed, ...extra, results: this.results }));
    process.exitCode = failed > 0 ? 1 : 0;
  }
}

/** assert throws msg unless cond holds. */
export function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

/** assertEqual compares as JSON. */
export function assertEqual(got, want, what) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what}: got ${g}, want ${w}`);
}

/** post sends one GraphQL request with fetch and returns {status, body}. */
/** within rejects when promise takes longer than ms. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function post(query, variables, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(graphqlURL, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: await res.json() };
}

/** addItem adds an item as the admin and returns it. */
export async function addItem(name) {
  const { body } = await post('mutation($n: String!) { addItem(input: {name: $n}) { id name } }', { n: name }, adminToken);
  assert(!body.errors, `addItem(${name}): ${JSON.stringify(body.errors)}`);
  return body.data.addItem;
}
