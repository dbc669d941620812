// Apollo Client with its persisted-queries link against a Herald server: a query twice (hashed
// GETs) and a mutation (a hashed POST). Prints one JSON object on stdout: every HTTP request
// the client made (method, whether it carried the document, status) and the data it got.
//
//   node tests/clients/apollo.mjs SERVER_URL KEY

import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [serverUrl, key] = process.argv.slice(2);
if (!serverUrl || !key) {
  console.error("usage: node apollo.mjs SERVER_URL KEY");
  process.exit(2);
}

const requests = [];
async function recordingFetch(input, init = {}) {
  const url = new URL(typeof input === "string" ? input : input.url);
  const method = init.method ?? "GET";
  const sent = method === "GET" ? url.searchParams.get("query") : JSON.parse(init.body).query;
  const response = await fetch(input, init);
  requests.push({ method, withDocument: Boolean(sent), status: response.status });
  return response;
}

const link = new PersistedQueryLink({
  sha256: (text) => createHash("sha256").update(text).digest("hex"),
  useGETForHashedQueries: true,
}).concat(
  new HttpLink({
    uri: new URL("/graphql", serverUrl).href,
    headers: { Authorization: `Bearer ${key}` },
    fetch: recordingFetch,
  }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const READ = gql`
  query Recent {
    messages(first: 5) { edges { node { id text } } }
  }
`;
const DRAFT = gql`
  mutation Draft($text: String!) {
    draftMessage(input: { conversationId: "apollo-1", text: $text }) { id text }
  }
`;

try {
  const drafted = await client.mutate({ mutation: DRAFT, variables: { text: "from Apollo" } });
  const first = await client.query({ query: READ, fetchPolicy: "network-only" });
  const second = await client.query({ query: READ, fetchPolicy: "network-only" });
  const data = (result) => JSON.parse(JSON.stringify(result.data));
  process.stdout.write(
    `${JSON.stringify({
      requests,
      drafted: data(drafted),
      first: data(first),
      second: data(second),
    })}\n`,
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  client.stop();
}
