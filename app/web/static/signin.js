// The sign-in page (/signin?next=/admin): a person signs in with user name, password and TOTP code (the
// first time enrolling an authenticator app), or by single sign-on where the node offers it, and is then
// sent to `next` — only if it is a path of this node, never another site (as app/people/redirects.py).
import {
  ENROL_HINT,
  OTP_HINT,
  listSignInMethods,
  signInPerson,
  takeSsoError,
} from "./person-sign-in.js";

const DEFAULT_LANDING = "/admin";
const MAX_NEXT_LENGTH = 500;

const $ = (id) => document.getElementById(id);

function say(id, message) {
  $(id).textContent = message;
  $(id).hidden = !message;
}

// A plain path of this node: one leading '/', no '//', no backslash (browsers read '/\evil' as '//evil'),
// no control characters or white space (a browser drops some before it parses).
export function safeNextPath(value) {
  if (!value || value.length > MAX_NEXT_LENGTH || !value.startsWith("/")) return DEFAULT_LANDING;
  if (value.startsWith("//") || value.includes("\\")) return DEFAULT_LANDING;
  for (const character of value) {
    const code = character.codePointAt(0);
    if (code < 0x21 || code === 0x7f) return DEFAULT_LANDING;
  }
  try {
    const url = new URL(value, window.location.origin);
    if (url.origin !== window.location.origin) return DEFAULT_LANDING;
  } catch {
    return DEFAULT_LANDING;
  }
  return value;
}

const next = safeNextPath(new URLSearchParams(window.location.search).get("next"));

function goOn() {
  window.location.assign(next);
}

async function submit(event) {
  event.preventDefault();
  $("person-sign-in").disabled = true; // one attempt at a time: each failure counts towards the lock
  let outcome;
  try {
    outcome = await signInPerson($("username").value.trim(), $("password").value, $("otp").value.trim());
  } finally {
    $("person-sign-in").disabled = false;
  }
  $("otp").value = ""; // a code is good once
  say("person-hint", "");
  say("person-error", "");
  if (outcome.kind === "signed-in") {
    $("password").value = "";
    say("person-hint", "登录成功，正在进入…");
    goOn();
  } else if (outcome.kind === "enrol") {
    $("otp-qr").replaceChildren(...(outcome.picture ? [outcome.picture] : []));
    $("otp-secret").textContent = outcome.secret;
    $("enrol").hidden = false;
    say("person-hint", ENROL_HINT);
    $("otp").focus();
  } else if (outcome.kind === "otp") {
    say("person-hint", OTP_HINT);
    $("otp").focus();
  } else {
    say("person-error", outcome.message);
  }
}

async function offerSingleSignOn() {
  const methods = await listSignInMethods();
  $("sso").dataset.methods = methods.join(" "); // what was offered, for whoever checks the page
  // Back to this page afterwards (which then goes on to `next`): a refusal comes back as ?sso_error=
  // to a page that can say why, whatever `next` is.
  const back = `/signin?next=${encodeURIComponent(next)}`;
  $("sso-link").setAttribute("href", `/auth/oidc/login?next=${encodeURIComponent(back)}`);
  $("sso").hidden = !methods.includes("oidc");
}

async function start() {
  $("person-form").addEventListener("submit", submit);
  const refusal = takeSsoError();
  if (refusal) say("person-error", refusal);
  // Already signed in (by single sign-on just now, or earlier in this browser): straight on.
  const current = await fetch("/v1/session", { credentials: "same-origin" }).catch(() => null);
  if (current && current.ok && !refusal) {
    goOn();
    return;
  }
  await offerSingleSignOn();
  $("username").focus();
}

start();
