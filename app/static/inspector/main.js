// The inspector's shell: sign in, then route /inspect (find messages) and
// /inspect/messages/{id} (a message's life) without reloading the page.

import { ApiError, query, session, takeKeyFromFragment } from "./api.js";
import { announce, h } from "./dom.js";
import { showList } from "./list.js";
import { showMessage } from "./message.js";

const main = document.getElementById("main");
let stopView = () => {};

const app = {
  go(path) {
    history.pushState(null, "", path);
    route();
  },
  // A failure said plainly; a key Herald refuses sends the person back to sign in.
  fail(error, where = main) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
      session.clear();
      route(`Herald did not accept this API key: ${error.message} Paste a valid key.`);
      return;
    }
    where.prepend(h("p", { class: "error", role: "alert" }, error.message));
  },
};

function route(refusal = null) {
  stopView();
  stopView = () => {};
  announce("");
  takeKeyFromFragment();
  account();
  main.replaceChildren();
  if (!session.key) {
    signIn(refusal);
    return;
  }
  const found = location.pathname.match(/^\/inspect\/messages\/([^/]+)\/?$/);
  stopView = found ? showMessage(main, decodeURIComponent(found[1]), app) : showList(main, app);
}

function account() {
  const nav = document.getElementById("account");
  nav.replaceChildren();
  if (!session.key) return;
  nav.append(
    h("a", { href: "/inspect", "data-nav": true }, "Messages"),
    h("button", { type: "button", onclick: signOut }, "Sign out"),
  );
}

function signOut() {
  session.clear();
  route();
  announce("Signed out: the key is gone from this tab.");
}

function signIn(refusal) {
  const input = h("input", {
    id: "key",
    name: "key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "hk_…",
  });
  const form = h(
    "form",
    { class: "signin", onsubmit: (event) => submit(event, input, form) },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste an API key (", h("code", {}, "herald keys create --workspace NAME"), " prints one). ",
      "It stays in this tab only, and goes to Herald in the Authorization header, nowhere else."),
    refusal && h("p", { class: "error", role: "alert" }, refusal),
    h("label", { for: "key" }, "API key"),
    h("div", { class: "row" }, input, h("button", { type: "submit" }, "Sign in")),
  );
  main.append(form);
  input.focus();
}

async function submit(event, input, form) {
  event.preventDefault();
  session.set(input.value);
  try {
    await query("query SignIn { messages(first: 0) { pageInfo { hasNextPage } } }");
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
      app.fail(error);
    } else {
      session.clear();
      form.querySelector(".error")?.remove();
      form.append(h("p", { class: "error", role: "alert" }, error.message));
    }
    return;
  }
  route();
  announce("Signed in.");
}

// Links marked data-nav change the view in place; a modified click still opens a new tab.
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[data-nav]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  app.go(link.getAttribute("href"));
});
window.addEventListener("popstate", () => route());
window.addEventListener("hashchange", () => location.hash.includes("key=") && route());
route();
