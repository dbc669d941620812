// Herald's GraphQL API, with the key the person pasted. The key lives in sessionStorage only:
// never a cookie, never in a URL the server sees (a link may carry it in the #fragment, which
// browsers keep to themselves; it is taken from there and dropped from the address bar).

const KEY = "herald.inspector.key";

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key.trim());
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

export function takeKeyFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get("key");
  if (!key) return;
  session.set(key);
  fragment.delete("key");
  const rest = fragment.toString();
  history.replaceState(history.state, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
}

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export async function query(document, variables = {}) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${session.key}`,
      },
      body: JSON.stringify({ query: document, variables }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError("Herald cannot be reached: is the server running?", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`Herald answered HTTP ${response.status} with no GraphQL answer.`, "HTTP");
  }
  if (body.errors?.length) {
    const [first] = body.errors;
    throw new ApiError(first.message, first.extensions?.code ?? "ERROR");
  }
  return body.data;
}

// A subscription over WebSocket (graphql-transport-ws, by graphql-ws's browser build). Calls
// onData with each result and onState with "live", "retrying", "refused" or "unavailable";
// returns a function that stops it.
export function subscribe(document, variables, onData, onState) {
  if (!window.graphqlWs) {
    onState("unavailable");
    return () => {};
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const client = window.graphqlWs.createClient({
    url: `${scheme}://${location.host}/graphql`,
    connectionParams: () => ({ Authorization: `Bearer ${session.key}` }),
    lazy: false,
    onNonLazyError: () => {}, // told through onState instead
    retryAttempts: 5,
    shouldRetry: (event) => !(event && event.code === 4403),
    on: {
      connected: () => onState("live"),
      closed: (event) => onState(event && event.code === 4403 ? "refused" : "retrying"),
    },
  });
  const stop = client.subscribe(
    { query: document, variables },
    {
      next: (result) => result.data && onData(result.data),
      error: () => onState("retrying"),
      complete: () => {},
    },
  );
  return () => {
    stop();
    // Disposing a connection the server refused rethrows the refusal: it was told already.
    Promise.resolve(client.dispose()).catch(() => {});
  };
}
