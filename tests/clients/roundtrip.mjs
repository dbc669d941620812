// Subscribes to one message's events on a Herald server with the npm graphql-ws client, and
// prints each event it receives as one JSON line on stdout; exits (0) after COUNT events.
// Anything else (an error, the server completing or closing first) goes to stderr, exit 1.
// stderr also gets the line "connected" once the server has acknowledged the connection.
//
//   node tests/clients/roundtrip.mjs SERVER_URL KEY MESSAGE_ID [COUNT]
//
// SERVER_URL is the server's base, e.g. http://127.0.0.1:8000; the client connects to
// ws://…/graphql with the graphql-transport-ws subprotocol and the key in connectionParams.

import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [serverUrl, key, messageId, countArg = "3"] = process.argv.slice(2);
const count = Number.parseInt(countArg, 10);
if (!serverUrl || !key || !messageId || !(count > 0)) {
  console.error("usage: node roundtrip.mjs SERVER_URL KEY MESSAGE_ID [COUNT]");
  process.exit(2);
}

const url = new URL("/graphql", serverUrl);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";

const query = `
  subscription ($m: ID) {
    messageEvents(messageId: $m) {
      __typename messageId conversationId version type actor occurredAt
      ... on MessageDrafted { text channel requiresApproval }
      ... on MessageEdited { text afterSend }
    }
  }
`;

const client = createClient({
  url: url.href,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${key}` },
  retryAttempts: 0,
  on: {
    connected: () => console.error("connected"),
  },
});

let received = 0;
let finished = false;

function finish(code, problem) {
  if (finished) return;
  finished = true;
  if (problem) console.error(problem);
  process.exitCode = code;
  unsubscribe();
  client.dispose();
}

function describe(error) {
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return JSON.stringify(error);
  if (error && typeof error.code === "number") return `closed ${error.code} ${error.reason}`;
  return String(error);
}

const unsubscribe = client.subscribe(
  { query, variables: { m: messageId } },
  {
    next: (result) => {
      if (finished) return;
      if (result.errors) {
        finish(1, `errors: ${JSON.stringify(result.errors)}`);
        return;
      }
      process.stdout.write(`${JSON.stringify(result.data.messageEvents)}\n`);
      received += 1;
      if (received >= count) finish(0);
    },
    error: (error) => finish(1, `error: ${describe(error)}`),
    complete: () => finish(1, `the server completed the subscription after ${received} events`),
  },
);
