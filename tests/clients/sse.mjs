// Subscribes to a Herald server's messageEvents with the npm graphql-sse client, from the cursor
// AFTER; after FIRST events it unsubscribes and subscribes again from the last cursor it got
// (a resume), and exits (0) once it has printed TOTAL events, one JSON line each on stdout.
// MODE is "distinct" (one stream per subscription) or "single" (one reserved stream).
// Anything else (an error, the server completing first) goes to stderr, exit 1.
//
//   node tests/clients/sse.mjs SERVER_URL KEY AFTER FIRST TOTAL MODE

import { createClient } from "graphql-sse";

const [serverUrl, key, after, firstArg, totalArg, mode] = process.argv.slice(2);
const first = Number.parseInt(firstArg, 10);
const total = Number.parseInt(totalArg, 10);
if (!serverUrl || !key || !after || !(first > 0) || !(total > first) || !mode) {
  console.error("usage: node sse.mjs SERVER_URL KEY AFTER FIRST TOTAL distinct|single");
  process.exit(2);
}

const client = createClient({
  url: new URL("/graphql/stream", serverUrl).href,
  headers: { Authorization: `Bearer ${key}` },
  singleConnection: mode === "single",
  retryAttempts: 0,
});

const query = `
  subscription ($after: String) {
    messageEvents(after: $after) { messageId version type cursor }
  }
`;

// Takes `count` events of a subscription from `cursor`, then unsubscribes.
async function take(cursor, count) {
  const events = [];
  const iterator = client.iterate({ query, variables: { after: cursor } });
  for await (const result of iterator) {
    if (result.errors) throw new Error(`errors: ${JSON.stringify(result.errors)}`);
    const event = result.data.messageEvents;
    process.stdout.write(`${JSON.stringify(event)}\n`);
    events.push(event);
    if (events.length === count) break; // leaving the loop unsubscribes
  }
  if (events.length < count) throw new Error(`the server completed after ${events.length} events`);
  return events;
}

try {
  const before = await take(after, first);
  console.error(`resuming after ${before.at(-1).cursor}`);
  await take(before.at(-1).cursor, total - first);
  process.exitCode = 0;
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  client.dispose();
}
