// The counter page. A clerk signs in as a person (user name, password and the code of an authenticator
// app; the first sign-in enrols that app by QR code), or a counter device signs in with its client
// credentials; then cards are checked by QR token (a USB scanner types the token into the focused field and
// presses Enter) or by card number and name.
// A person's session is an httpOnly cookie the page never sees: requests are same-origin and send it, and
// each one that changes state adds the session's CSRF token. A device's access token lives in this tab only
// (sessionStorage). Nothing else is stored.
"use strict";

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
const SVG_NS = "http://www.w3.org/2000/svg";
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

function parseSvg(text) {
  // The QR code comes drawn by the server (the page has no QR library, and may show no image from
  // elsewhere): parsed as SVG, never as HTML, and taken only if it is one <svg> element.
  if (typeof text !== "string") return null;
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = parsed.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg") return null;
  if (parsed.getElementsByTagName("parsererror").length > 0) return null;
  return document.importNode(root, true);
}

function secretOf(uri) {
  try {
    return new URL(uri).searchParams.get("secret") || "";
  } catch {
    return "";
  }
}

function showEnrolment(problem) {
  const picture = parseSvg(problem.otp_qr_svg);
  $("otp-qr").replaceChildren(...(picture ? [picture] : []));
  $("otp-secret").textContent = secretOf(problem.otp_uri);
  show($("enrol"), true);
  say("person-error", "");
  say("person-hint", "请先绑定身份验证器，再输入其显示的动态验证码并登录");
  $("otp").focus();
}

function waitMessage(answer, reason) {
  const seconds = Number(answer.headers.get("Retry-After"));
  if (!(seconds > 0)) return `${reason}，请稍后再试`;
  return `${reason}，请 ${Math.ceil(seconds / 60)} 分钟后再试`;
}

async function signInPerson(event) {
  event.preventDefault();
  const payload = { username: $("username").value.trim(), password: $("password").value };
  const otp = $("otp").value.trim();
  if (otp) payload.otp = otp;
  $("person-sign-in").disabled = true; // one attempt at a time: each failure counts towards the lock
  let answer;
  try {
    answer = await fetch("/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
  } catch {
    say("person-error", "无法连接服务器，请稍后重试");
    return;
  } finally {
    $("person-sign-in").disabled = false;
  }
  $("otp").value = ""; // a code is good once
  if (answer.ok) {
    personSignedIn(await answer.json());
    return;
  }
  const problem = await answer.json().catch(() => ({}));
  say("person-hint", "");
  if (problem.code === "session.otp_enrolment_required") {
    showEnrolment(problem);
  } else if (problem.code === "session.otp_required") {
    say("person-error", "");
    say("person-hint", "请输入身份验证器显示的 6 位动态验证码");
    $("otp").focus();
  } else if (problem.code === "session.invalid") {
    say("person-error", "登录失败：用户名、密码或动态验证码不正确");
  } else if (problem.code === "session.locked") {
    say("person-error", waitMessage(answer, "登录失败次数过多，该用户名已暂时锁定"));
  } else if (answer.status === 429) {
    say("person-error", waitMessage(answer, "登录尝试过于频繁"));
  } else if (problem.code === "session.origin") {
    say("person-error", "请通过本系统的正式地址打开本页后再登录");
  } else {
    say("person-error", `登录失败（${problem.title || answer.status}）`);
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

function render(answer) {
  const outcome = $("outcome");
  outcome.textContent = OUTCOMES[answer.outcome] || answer.outcome;
  outcome.className = `outcome ${answer.outcome}`;
  outcome.dataset.outcome = answer.outcome;
  const facts = $("facts");
  facts.replaceChildren();
  const card = answer.credential;
  if (card) {
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
    addFact(facts, "本地认可", `${MODES[recognition.mode] || recognition.mode}：${recognition.equivalent.card_class_name || ""}`);
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
  const answer = await fetch("/v1/session/methods").catch(() => null);
  const body = answer && answer.ok ? await answer.json().catch(() => ({})) : {};
  const methods = Array.isArray(body.methods) ? body.methods : [];
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

const SSO_ERRORS = {
  "sso.refused": "统一身份认证未通过：该账号未被授予本系统的角色，或认证被拒绝",
  "sso.expired": "统一身份认证已超时或不是从本页发起，请重新登录",
  "sso.unavailable": "统一身份认证服务暂时不可用，请稍后重试或使用账号密码登录",
};

function showSsoRefusal() {
  // The single sign-on callback sends the browser back here with ?sso_error=<code> when it refused.
  const url = new URL(window.location.href);
  const code = url.searchParams.get("sso_error");
  if (!code) return;
  say("person-error", SSO_ERRORS[code] || SSO_ERRORS["sso.refused"]);
  url.searchParams.delete("sso_error");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

document.addEventListener("DOMContentLoaded", () => {
  $("person-form").addEventListener("submit", signInPerson);
  $("sign-in-form").addEventListener("submit", signInDevice);
  $("sign-out").addEventListener("click", signOut);
  $("scan-form").addEventListener("submit", scan);
  $("manual-form").addEventListener("submit", manual);
  offerMethods();
  resumeSession();
});
