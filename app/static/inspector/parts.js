// The pieces of a message's page, each drawn from what the API answered.

import { h, plural, statusBadge, time } from "./dom.js";

const PATH = ["DRAFT", "ACCEPTED", "PROCESSING", "SENT", "DELIVERED"];
// What each event type does to the status, as the contract describes the events.
const SETS = { Drafted: "DRAFT", Sent: "ACCEPTED", Rejected: "REJECTED" };

export function statusesAfter(events) {
  let status = null;
  return events.map((e) => (status = e.__typename === "MessageStatusChanged" ? e.status : SETS[e.type] ?? status));
}

export function timeline(events, statuses, onTravel) {
  return h("section", { class: "timeline-box", "aria-labelledby": "timeline-title" },
    h("h2", { id: "timeline-title" }, "Timeline"),
    h("ol", { class: "timeline" }, events.map((e, i) => h("li", { "data-version": e.version, "data-type": e.type },
      h("button", { type: "button", class: "version", onclick: () => onTravel(e.version),
        title: `Show the message as it stood after version ${e.version}` }, `v${e.version}`),
      h("span", { class: "type" }, e.type),
      h("span", { class: "actor" }, "by ", e.actor ?? "unknown"),
      time(e.occurredAt),
      h("span", { class: "after" }, "→ ", statusBadge(statuses[i])),
      e.reason ? h("span", { class: "reason" }, e.reason) : null))));
}

export function revisionList(revisions, erased) {
  return h("section", { class: "revisions-box", "aria-labelledby": "revisions-title" },
    h("h2", { id: "revisions-title" }, "Revisions"),
    h("ol", { class: "revisions" }, revisions.map((r) => h("li", { "data-version": r.version },
      h("h3", {}, `v${r.version} · ${r.type}`, r.afterSend ? " after sending" : "",
        " by ", r.actor ?? "unknown", " · ", time(r.occurredAt)),
      r.change ? h("p", { class: "change" }, changeSize(r.change)) : null,
      content(r, erased)))));
}

function content(revision, erased) {
  if (erased) return h("p", { class: "erased" }, "Content erased");
  if (revision.diff) {
    return h("p", { class: "text diff" }, revision.diff.map((s) => s.op === "INSERT" ? h("ins", {}, s.text)
      : s.op === "DELETE" ? h("del", {}, s.text) : s.text));
  }
  return h("p", { class: "text" }, revision.text ?? h("em", {}, "no text"));
}

function changeSize(change) {
  return `+${change.wordsAdded} −${change.wordsRemoved} words`;
}

export function approvalBadge(message, approval) {
  if (approval) {
    const what = approval.asDrafted ? "Approved as drafted" : `Approved after ${plural(approval.edits, "edit")}`;
    return h("span", { class: "badge approval", "data-edits": approval.edits }, what,
      approval.change && !approval.asDrafted ? ` · ${changeSize(approval.change)}` : "",
      approval.approvedBy ? ` · by ${approval.approvedBy}` : "");
  }
  if (message.status === "REJECTED") {
    return h("span", { class: "badge bad" }, "Rejected", message.rejectedBy ? ` by ${message.rejectedBy}` : "");
  }
  if (message.requiresApproval && message.status === "DRAFT") {
    return h("span", { class: "badge waiting" }, "Waiting for approval");
  }
  return null;
}

export function lane(message, events, statuses) {
  const reached = new Map();
  events.forEach((e, i) => reached.has(statuses[i]) || reached.set(statuses[i], e.occurredAt));
  const current = message.status;
  let steps = PATH;
  if (current === "REJECTED") steps = ["DRAFT", "REJECTED"];
  else if (current.endsWith("FAILED")) steps = [...PATH.filter((s) => reached.has(s) && s !== current), current];
  return h("section", { class: "lane-box", "aria-labelledby": "lane-title" },
    h("h2", { id: "lane-title" }, "Status"),
    h("ol", { class: "lane" }, steps.map((s) => h("li", {
      class: [reached.has(s) ? "reached" : "ahead", s === current ? "current" : "",
        s === "REJECTED" || s.endsWith("FAILED") ? "bad" : ""].join(" ").trim(),
      "aria-current": s === current ? "step" : null,
    }, h("span", { class: "step" }, s), reached.has(s) ? time(reached.get(s)) : null,
    s === current && message.failureReason ? h("span", { class: "reason" }, message.failureReason) : null))));
}

export function redactionMarker(message, events) {
  if (!message.redacted) return null;
  const redaction = events.find((e) => e.type === "Redacted");
  return h("div", { class: "redacted", role: "note", "data-redacted": "" },
    h("strong", {}, "Redacted"), " ", time(message.redactedAt),
    redaction?.actor ? ` by ${redaction.actor}` : "",
    ". The content is erased for good: no revision, diff or earlier version shows it.",
    redaction?.reason ? ` Reason given: ${redaction.reason}` : "");
}
