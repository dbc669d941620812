// Elements built from data. Text always goes in as text, never parsed as HTML: message content
// is whatever a bot or a person wrote.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function time(iso) {
  if (!iso) return null;
  const when = new Date(iso);
  return h("time", { datetime: iso, title: iso }, when.toLocaleString());
}

export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

export function shortId(id) {
  return id.length > 13 ? `${id.slice(0, 8)}…` : id;
}

export function statusBadge(status) {
  const kind = status.endsWith("FAILED") || status === "REJECTED" ? "bad" : status.toLowerCase();
  return h("span", { class: `status status-${kind}` }, status);
}

// A message on the page: shown in the live region, read out by screen readers.
export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = text;
}
