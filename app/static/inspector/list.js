// Find messages: by conversation, status and time, newest first, a page at a time; messages
// drafted meanwhile appear at the top as they happen.

import { query, subscribe } from "./api.js";
import { announce, h, shortId, statusBadge, time } from "./dom.js";

const STATUSES = ["DRAFT", "REJECTED", "ACCEPTED", "PROCESSING", "SENT", "DELIVERED",
  "SENDING_FAILED", "DELIVERY_FAILED"];
const FIELDS = "id conversationId channel status version text redacted createdAt";
const FIND = `query Find($conversationId: ID, $status: [MessageStatus!], $after: String) {
  messages(conversationId: $conversationId, status: $status, first: 50, after: $after) {
    edges { node { ${FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const ONE = `query One($id: ID!) { message(id: $id) { ${FIELDS} } }`;
const LIVE = `subscription Arrivals($conversationId: ID) {
  messageEvents(conversationId: $conversationId) { type messageId version }
}`;
// The time filter is applied here, page by page: one click reads at most this many pages.
const PAGES_PER_LOOK = 10;
const WANTED = 25;

export function showList(main, app) {
  const params = new URLSearchParams(location.search);
  const filters = {
    conversationId: params.get("conversation") || null,
    status: params.get("status") || null,
    from: params.get("from") || null,
    until: params.get("until") || null,
  };
  const rows = new Map();
  const list = h("ol", { class: "messages", "aria-label": "Messages, newest first" });
  const older = h("button", { type: "button", hidden: true, onclick: () => look() }, "Look further back");
  const progress = h("p", { class: "quiet" });
  const liveState = h("span", { class: "live-state" }, "connecting…");
  const page = { cursor: null, more: true };
  let stopped = false;

  main.append(
    h("h1", {}, "Messages"),
    opener(app),
    filterForm(filters, app),
    h("p", { class: "quiet" }, "Newest first. Live: ", liveState),
    list, progress, older,
  );

  const matches = (m) => {
    const at = new Date(m.createdAt);
    return (!filters.status || m.status === filters.status)
      && (!filters.from || at >= new Date(filters.from))
      && (!filters.until || at <= new Date(filters.until));
  };

  const show = (m, { first = false } = {}) => {
    const row = h("li", { "data-id": m.id, class: first ? "fresh" : null },
      h("a", { href: `/inspect/messages/${encodeURIComponent(m.id)}`, "data-nav": true },
        time(m.createdAt), " ", statusBadge(m.status),
        h("span", { class: "conversation" }, m.conversationId),
        h("span", { class: "id" }, shortId(m.id)),
        h("span", { class: "snippet" }, m.redacted ? h("em", {}, "content erased")
          : m.text ? m.text.slice(0, 140) : h("em", {}, "no text"))));
    const shown = rows.get(m.id);
    if (shown) shown.replaceWith(row);
    else if (first) list.prepend(row);
    else list.append(row);
    rows.set(m.id, row);
    progress.textContent = `${rows.size} shown.`;
  };

  async function look() {
    older.hidden = true;
    let pages = 0;
    let found = 0;
    const variables = {
      conversationId: filters.conversationId,
      status: filters.status ? [filters.status] : null,
    };
    try {
      while (page.more && pages < PAGES_PER_LOOK && found < WANTED) {
        const { messages } = await query(FIND, { ...variables, after: page.cursor });
        if (stopped) return;
        pages += 1;
        page.more = messages.pageInfo.hasNextPage;
        page.cursor = messages.pageInfo.endCursor;
        for (const { node } of messages.edges) {
          if (filters.from && new Date(node.createdAt) < new Date(filters.from)) {
            page.more = false; // newest first: nothing older can match
            break;
          }
          if (matches(node) && !rows.has(node.id)) {
            show(node);
            found += 1;
          }
        }
      }
    } catch (error) {
      app.fail(error);
      return;
    }
    older.hidden = !page.more;
    if (!rows.size) progress.textContent = "No message matches.";
  }

  const stop = subscribe(LIVE, { conversationId: filters.conversationId }, async (data) => {
    const event = data.messageEvents;
    if (event.type !== "Drafted" && !rows.has(event.messageId)) return;
    try {
      const { message } = await query(ONE, { id: event.messageId });
      if (stopped || !message) return;
      if (rows.has(message.id) || matches(message)) show(message, { first: !rows.has(message.id) });
      if (event.type === "Drafted") announce(`New message in ${message.conversationId}.`);
    } catch (error) {
      app.fail(error);
    }
  }, (state) => {
    if (!stopped) liveState.textContent = state;
  });

  look();
  return () => {
    stopped = true;
    stop();
  };
}

function opener(app) {
  const input = h("input", { id: "open-id", name: "id", autocomplete: "off", required: true,
    placeholder: "a message id" });
  return h("form", { class: "row", onsubmit: (event) => {
    event.preventDefault();
    app.go(`/inspect/messages/${encodeURIComponent(input.value.trim())}`);
  } }, h("label", { for: "open-id" }, "Open a message by id"), input,
  h("button", { type: "submit" }, "Open"));
}

function filterForm(filters, app) {
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const conversation = h("input", { id: "f-conversation", value: filters.conversationId ?? "" });
  const status = h("select", { id: "f-status" },
    h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const from = h("input", { id: "f-from", type: "datetime-local", value: filters.from ?? "" });
  const until = h("input", { id: "f-until", type: "datetime-local", value: filters.until ?? "" });
  return h("form", { class: "filters", "aria-label": "Filter messages", onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (conversation.value.trim()) next.set("conversation", conversation.value.trim());
    if (status.value) next.set("status", status.value);
    if (from.value) next.set("from", from.value);
    if (until.value) next.set("until", until.value);
    app.go(`/inspect${next.toString() ? `?${next}` : ""}`);
  } },
  field("f-conversation", "Conversation", conversation),
  field("f-status", "Status", status),
  field("f-from", "Created from", from),
  field("f-until", "Created until", until),
  h("button", { type: "submit" }, "Find"));
}
