// The counter page. A clerk signs in as a person (user name, password and the code of an authenticator
// app; the first sign-in enrols that app by QR code), or a counter device signs in with its client
// credentials; then cards are checked by QR token (a USB scanner types the token into the focused field and
// presses Enter) or by card number and name.
// A person's session is an httpOnly cookie the page never sees: requests are same-origin and send it, and
// each one that changes state adds the session's CSRF token. A device's access token lives in this tab only
// (sessionStorage). Nothing else is stored.
import {
  ENROL_HINT,
  OTP_HINT,
  listSignInMethods,
  signInPerson as requestSignIn,
  takeSsoError,
} from "./person-sign-in.js";

const OUTCOMES = {
  valid: "有效",
  suspended: "暂扣",
  revoked: "已撤销",
  cancelled: "已注销",
  expired: "已过期",
  transferred: "已转出",
  superseded: "已更正",
  no_match: "无匹配",
};
const REGIONS = { SC: "四川", CQ: "重庆" };
const MODES = { direct: "直接认可", delegated: "属地确认", mapped: "对应认可", reciprocal: "对等互认" };
const URGENCY = { severe: "重度", moderate: "中度", mild: "轻度" };
const CHECKS = {
  "token.signature": "签名",
  "token.expiry": "令牌有效期",
  "status.list": "状态列表",
  "status.current": "当前状态",
  "validity.window": "卡片有效期",
  "registry.match": "登记信息匹配",
  "format.number": "卡号格式",
  "issuer.trusted": "发卡机构",
  "recognition.rule": "互认规则",
};

const ROLES = { clerk: "窗口人员", admin: "管理员", auditor: "审计员" };
// The card systems' names come from the public code table (GET /v1/reference/card-systems), never from this
// page: a region that adds or replaces its card (新重庆人才卡 beside 重庆英才服务卡) needs no change here.
let cardSystems = {};
const DEVICE_KEY = "huren-counter";

const $ = (id) => document.getElementById(id);
// Who is signed in: { kind: "person", csrfToken, ... } or { kind: "device", token, ... }, or null.
let session = null;

function show(element, visible) {
  element.hidden = !visible;
}

function say(id, message) {
  $(id).textContent = message;
  show($(id), Boolean(message));
}

function showError(message) {
  say("error", message);
}

function namesOf(codes, names) {
  return codes.map((code) => names[code] || code).join("、");
}

function signedIn() {
  show($("sign-in-panel"), false);
  show($("check-panel"), true);
  if (session.kind === "person") {
    const roles = namesOf(session.roles, ROLES);
    $("who").textContent = `${session.displayName}（${roles} · ${namesOf(session.regions, REGIONS)}）`;
  } else {
    $("who").textContent = `窗口：${session.clientId}`;
  }
  show($("who"), true);
  show($("sign-out"), true);
  $("scan").focus();
}

function showSignIn(message, wasDevice) {
  session = null;
  sessionStorage.removeItem(DEVICE_KEY);
  show($("check-panel"), false);
  show($("result"), false);
  show($("who"), false);
  show($("sign-out"), false);
  showError("");
  show($("sign-in-panel"), true);
  say("person-hint", "");
  if (wasDevice) {
    $("device").open = true;
    say("sign-in-error", message);
    say("person-error", "");
  } else {
    say("person-error", message);
    say("sign-in-error", "");
  }
}

function personSignedIn(answer) {
  session = {
    kind: "person",
    username: answer.username,
    displayName: answer.display_name,
    roles: answer.roles,
    regions: answer.regions,
    csrfToken: answer.csrf_token,
  };
  sessionStorage.removeItem(DEVICE_KEY);
  $("password").value = "";
  $("otp").value = "";
  show($("enrol"), false);
  $("otp-qr").replaceChildren();
  $("otp-secret").textContent = "";
  say("person-hint", "");
  say("person-error", "");
  signedIn();
}

function showEnrolment(picture, secret) {
  $("otp-qr").replaceChildren(...(picture ? [picture] : []));
  $("otp-secret").textContent = secret;
  show($("enrol"), true);
  say("person-error", "");
  say("person-hint", ENROL_HINT);
  $("otp").focus();
}

async function signInPerson(event) {
  event.preventDefault();
  $("person-sign-in").disabled = true; // one attempt at a time: each failure counts towards the lock
  let outcome;
  try {
    outcome = await requestSignIn($("username").value.trim(), $("password").value, $("otp").value.trim());
  } finally {
    $("person-sign-in").disabled = false;
  }
  $("otp").value = ""; // a code is good once
  say("person-hint", "");
  if (outcome.kind === "signed-in") {
    personSignedIn(outcome.session);
  } else if (outcome.kind === "enrol") {
    showEnrolment(outcome.picture, outcome.secret);
  } else if (outcome.kind === "otp") {
    say("person-error", "");
    say("person-hint", OTP_HINT);
    $("otp").focus();
  } else {
    say("person-error", outcome.message);
  }
}

async function signInDevice(event) {
  event.preventDefault();
  const clientId = $("client-id").value.trim();
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: $("client-secret").value,
    scope: "verify",
  });
  const answer = await fetch("/oauth/token", { method: "POST", body: form });
  if (!answer.ok) {
    say("sign-in-error", "登录失败：账号或密钥不正确");
    return;
  }
  const body = await answer.json();
  session = { kind: "device", clientId, token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
  sessionStorage.setItem(DEVICE_KEY, JSON.stringify(session));
  $("client-secret").value = "";
  say("sign-in-error", "");
  signedIn();
}

async function signOut() {
  const ending = session;
  if (ending && ending.kind === "person") {
    // Ended on the server too, so the cookie is worth nothing even if the browser kept it.
    await fetch("/v1/session", {
      method: "DELETE",
      headers: { "X-CSRF-Token": ending.csrfToken },
      credentials: "same-origin",
    }).catch(() => null);
  }
  showSignIn("", Boolean(ending && ending.kind === "device"));
  say("person-hint", "已退出登录");
}

function credentialsOf(current) {
  if (current.kind === "device") return { Authorization: `Bearer ${current.token}` };
  return { "X-CSRF-Token": current.csrfToken };
}

async function ask(path, payload) {
  showError("");
  const current = session;
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...credentialsOf(current) },
    body: JSON.stringify(payload),
    credentials: "same-origin",
  });
  const problem = answer.ok ? null : await answer.json().catch(() => ({}));
  if (answer.status === 401 || (problem && problem.code === "session.csrf")) {
    showSignIn("登录已过期，请重新登录", current.kind === "device");
    return;
  }
  if (problem) {
    if (answer.status === 403) showError("当前账号没有核验权限");
    else showError(answer.status === 422 ? "输入有误，请检查后重试" : `暂时无法核验（${problem.title || answer.status}）`);
    show($("result"), false);
    return;
  }
  render(await answer.json());
}

function addFact(list, label, value) {
  if (value === null || value === undefined || value === "") return;
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}

async function loadCardSystems() {
  const answer = await fetch("/v1/reference/card-systems").catch(() => null);
  if (!answer || !answer.ok) return; // the codes are shown instead; checking cards still works
  const body = await answer.json();
  cardSystems = Object.fromEntries(body.items.map((system) => [system.code, system.name]));
}

// "新重庆人才卡 · 新重庆人才卡A卡" says the system twice: a class name that already names it stands alone.
function cardLabel(system, className) {
  const name = cardSystems[system] || system || "";
  if (!className) return name;
  return className.startsWith(name) ? className : `${name} · ${className}`;
}

function render(answer) {
  const outcome = $("outcome");
  outcome.textContent = OUTCOMES[answer.outcome] || answer.outcome;
  outcome.className = `outcome ${answer.outcome}`;
  outcome.dataset.outcome = answer.outcome;
  const facts = $("facts");
  facts.replaceChildren();
  const card = answer.credential;
  if (card) {
    addFact(facts, "人才卡", cardSystems[card.card_system] || card.card_system);
    addFact(facts, "卡类", card.card_class_name || card.card_class);
    addFact(facts, "持卡人", card.holder && card.holder.name_masked);
    addFact(facts, "卡号", card.number);
    addFact(facts, "发卡地区", REGIONS[card.region] || card.region);
    const from = card.valid_from || "—";
    const until = card.valid_until || "长期";
    addFact(facts, "有效期", `${from} 至 ${until}`);
  }
  if (answer.status_list_age_seconds !== null && answer.status_list_age_seconds !== undefined) {
    addFact(facts, "状态更新于", `${Math.round(answer.status_list_age_seconds)} 秒前`);
  }
  const services = $("services");
  services.replaceChildren();
  const recognition = answer.recognition;
  const shared = (recognition && recognition.equivalent && recognition.equivalent.shared_services) || [];
  if (recognition) {
    const equivalent = recognition.equivalent;
    const as = cardLabel(equivalent.card_system, equivalent.card_class_name || equivalent.card_class);
    addFact(facts, "本地认可", `${MODES[recognition.mode] || recognition.mode}：${as}`);
  }
  // The shortage-catalogue posts the credential fills here (never for a card today: the catalogue lists titles
  // and skills), one line each.
  for (const post of answer.shortage || []) {
    addFact(facts, "急需紧缺", `${post.post}（${URGENCY[post.urgency] || post.urgency}）`);
  }
  for (const service of shared) {
    const item = document.createElement("li");
    item.textContent = service.name;
    services.append(item);
  }
  show($("services-block"), shared.length > 0);
  const checks = $("checks");
  checks.replaceChildren();
  for (const check of answer.checks) {
    const item = document.createElement("li");
    item.textContent = `${CHECKS[check.id] || check.id}：${check.passed ? "通过" : "未通过"}（${check.code}）`;
    if (!check.passed) item.className = "failed";
    checks.append(item);
  }
  show($("result"), true);
}

async function scan(event) {
  event.preventDefault();
  const value = $("scan").value.trim();
  $("scan").value = "";
  $("scan").focus();
  if (!value) return;
  if (value.split(".").length !== 3) {
    showError("这不是卡片二维码的内容；无二维码时请输入卡号和姓名");
    show($("result"), false);
    return;
  }
  await ask("/v1/verify/card-token", { token: value });
}

async function manual(event) {
  event.preventDefault();
  await ask("/v1/verify", {
    kind: "card",
    region: $("manual-region").value,
    number: $("manual-number").value.trim(),
    name: $("manual-name").value.trim(),
  });
  $("scan").focus();
}

async function offerMethods() {
  // The single sign-on link only where the node has an identity provider to send the browser to.
  const methods = await listSignInMethods();
  $("sso").dataset.methods = methods.join(" "); // what was offered, for whoever checks the page
  show($("sso"), methods.includes("oidc"));
}

async function resumeSession() {
  const stored = JSON.parse(sessionStorage.getItem(DEVICE_KEY) || "null");
  if (stored && stored.kind === "device" && stored.expiresAt > Date.now() + 5000) {
    session = stored;
    signedIn();
    return;
  }
  // A person signed in earlier in this browser (or by single sign-on) has a live session cookie.
  const answer = await fetch("/v1/session", { credentials: "same-origin" }).catch(() => null);
  if (answer && answer.ok) personSignedIn(await answer.json());
  else showSignIn("", false);
  showSsoRefusal();
}

function showSsoRefusal() {
  // The single sign-on callback sends the browser back here with ?sso_error=<code> when it refused.
  const message = takeSsoError();
  if (message) say("person-error", message);
}

document.addEventListener("DOMContentLoaded", () => {
  $("person-form").addEventListener("submit", signInPerson);
  $("sign-in-form").addEventListener("submit", signInDevice);
  $("sign-out").addEventListener("click", signOut);
  $("scan-form").addEventListener("submit", scan);
  $("manual-form").addEventListener("submit", manual);
  offerMethods();
  loadCardSystems();
  resumeSession();
});
