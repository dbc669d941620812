// A message's life: its timeline, every revision with its word diff (computed by Herald), the
// approval badge, the status lane, redaction, time travel (messageAt), and live follow.

import { query, subscribe } from "./api.js";
import { announce, h, shortId, statusBadge, time } from "./dom.js";
import { approvalBadge, lane, redactionMarker, revisionList, statusesAfter, timeline } from "./parts.js";

const EVENT = `__typename version type actor occurredAt
  ... on MessageStatusChanged { status reason } ... on MessageRejected { reason }
  ... on MessageRedacted { reason }`;
const REVISION = `version type actor occurredAt afterSend text
  diff { op text } change { wordsAdded wordsRemoved }`;
const PAGE_INFO = "pageInfo { hasNextPage endCursor }";
const INSPECT = `query Inspect($id: ID!) {
  message(id: $id) {
    id conversationId channel version status redacted redactedAt failureReason requiresApproval
    rejectedBy createdAt
    history(first: 100) { edges { node { ${EVENT} } } ${PAGE_INFO} }
    revisions(first: 20) { edges { node { ${REVISION} } } ${PAGE_INFO} }
    approval { approvedBy approvedAt version edits asDrafted change { wordsAdded wordsRemoved } }
  }
}`;
const MORE = {
  history: `query More($id: ID!, $after: String) {
    message(id: $id) { history(first: 100, after: $after) { edges { node { ${EVENT} } } ${PAGE_INFO} } } }`,
  revisions: `query More($id: ID!, $after: String) {
    message(id: $id) { revisions(first: 20, after: $after) { edges { node { ${REVISION} } } ${PAGE_INFO} } } }`,
};
const AT = `query At($id: ID!, $version: Int!) {
  messageAt(id: $id, version: $version) { version status text redacted }
}`;
const FOLLOW = `subscription Follow($id: ID!) { messageEvents(messageId: $id) { type version actor } }`;
const MOST_PAGES = 50;

async function everything(id, connection, first) {
  const nodes = first.edges.map((e) => e.node);
  let info = first.pageInfo;
  for (let pages = 1; info.hasNextPage && pages < MOST_PAGES; pages += 1) {
    const data = await query(MORE[connection], { id, after: info.endCursor });
    const more = data.message[connection];
    nodes.push(...more.edges.map((e) => e.node));
    info = more.pageInfo;
  }
  return nodes;
}

export function showMessage(main, id, app) {
  let stopped = false;
  let shown = null; // what is on the page: { message, events, revisions }
  let loading = null;
  let again = false;
  let unseen = 0; // events that arrived while not following
  const body = h("div", { class: "message-head" }, h("p", {}, "Loading the message…"));
  const laneArea = h("div", { class: "lane-area" });
  const timelineArea = h("div", { class: "timeline-area" });
  const revisionsArea = h("div", { class: "revisions-area" });
  const liveState = h("span", { class: "live-state" }, "connecting…");
  const follow = h("input", { id: "follow", type: "checkbox", checked: true });
  const pending = h("button", { type: "button", hidden: true, onclick: () => { unseen = 0; refresh(); } });
  const slider = h("input", { id: "travel", type: "range", min: 1, max: 1, value: 1, step: 1,
    "aria-describedby": "travel-shown" });
  const travelShown = h("div", { id: "travel-shown", class: "travel-shown", "aria-live": "polite" });
  const now = h("button", { type: "button", onclick: () => travel(Number(slider.max)) }, "Now");
  const travelBox = h("section", { class: "travel", "aria-labelledby": "travel-title", hidden: true },
    h("h2", { id: "travel-title" }, "Time travel"),
    h("div", { class: "row" }, h("label", { for: "travel" }, "Version"), slider, now),
    travelShown);
  main.append(
    h("div", { class: "row live" }, h("a", { href: "/inspect", "data-nav": true }, "← All messages"),
      follow, h("label", { for: "follow" }, "Follow live"), h("span", { class: "quiet" }, "· ", liveState),
      pending),
    h("div", { class: "message-view" }, body, laneArea, timelineArea, travelBox, revisionsArea),
  );

  let travelTimer = null;
  slider.addEventListener("input", () => {
    clearTimeout(travelTimer);
    travelTimer = setTimeout(() => travel(Number(slider.value)), 120);
  });

  let travels = 0; // only the latest time travel may fill the panel
  async function travel(version) {
    const mine = ++travels;
    slider.value = String(version);
    timelineArea.querySelectorAll(".timeline li").forEach((li) =>
      li.classList.toggle("future", Number(li.dataset.version) > version));
    let at;
    try {
      ({ messageAt: at } = await query(AT, { id, version }));
    } catch (error) {
      app.fail(error, travelShown);
      return;
    }
    if (stopped || mine !== travels || !at) return;
    const event = shown.events.find((e) => e.version === version);
    const text = at.text ?? (shown.message.redacted ? null : "");
    travelShown.replaceChildren(
      h("p", {}, `As it stood after version ${version} of ${shown.message.version}`,
        event ? [": ", event.type, " by ", event.actor ?? "unknown", ", "] : " ", time(event?.occurredAt)),
      h("p", {}, "Status ", statusBadge(at.status)),
      text === null ? h("p", { class: "erased" }, "Content erased")
        : h("p", { class: "text", "data-version": version }, text || h("em", {}, "no text")),
    );
  }

  async function load() {
    const data = await query(INSPECT, { id });
    if (stopped) return;
    if (!data.message) {
      body.replaceChildren(h("h1", {}, "No such message"),
        h("p", { role: "alert", class: "error" }, `There is no message with the id “${id}” in this workspace.`));
      return;
    }
    const message = data.message;
    const events = await everything(id, "history", message.history);
    const revisions = await everything(id, "revisions", message.revisions);
    if (stopped) return;
    const atNow = !shown || Number(slider.value) === Number(slider.max);
    shown = { message, events, revisions };
    if (message.redacted) {
      travels += 1; // a time travel answered before the redaction must not show its content
      travelShown.replaceChildren();
    }
    render(message, events, revisions);
    slider.max = String(message.version);
    travelBox.hidden = false;
    await travel(atNow ? message.version : Math.min(Number(slider.value), message.version));
  }

  function render(message, events, revisions) {
    const statuses = statusesAfter(events);
    document.title = `Message ${shortId(message.id)} · Herald`;
    const marker = redactionMarker(message, events);
    body.replaceChildren(
      h("h1", {}, "Message ", h("code", { class: "id" }, message.id)),
      h("p", { class: "facts" }, "Conversation ", h("strong", {}, message.conversationId), " · ",
        message.channel, " · version ", String(message.version), " · created ", time(message.createdAt)),
      h("p", { class: "badges" }, statusBadge(message.status), approvalBadge(message, message.approval)),
      ...(marker ? [marker] : []));
    laneArea.replaceChildren(lane(message, events, statuses));
    timelineArea.replaceChildren(timeline(events, statuses, (version) => { travel(version); slider.focus(); }));
    revisionsArea.replaceChildren(revisionList(revisions, message.redacted));
  }

  async function refresh() {
    pending.hidden = true;
    if (loading) {
      again = true;
      return;
    }
    loading = load().catch((error) => app.fail(error, body));
    await loading;
    loading = null;
    if (again && !stopped) {
      again = false;
      await refresh();
    }
  }

  const stop = subscribe(FOLLOW, { id }, (data) => {
    const event = data.messageEvents;
    announce(`New event: ${event.type}, version ${event.version}, by ${event.actor ?? "unknown"}.`);
    if (follow.checked) {
      unseen = 0;
      refresh();
    } else {
      unseen += 1;
      pending.textContent = `Show ${unseen} new event${unseen === 1 ? "" : "s"}`;
      pending.hidden = false;
    }
  }, (state) => {
    if (!stopped) liveState.textContent = state;
  });
  follow.addEventListener("change", () => { if (follow.checked && unseen) { unseen = 0; refresh(); } });

  refresh();
  return () => {
    stopped = true;
    clearTimeout(travelTimer);
    stop();
  };
}
