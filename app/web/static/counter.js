// The counter page: sign in once with the counter's client credentials, then check cards by QR token
// (a USB scanner types the token into the focused field and presses Enter) or by card number and name.
// The access token lives in this tab only (sessionStorage); nothing else is stored.
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

const $ = (id) => document.getElementById(id);
let session = JSON.parse(sessionStorage.getItem("huren-counter") || "null");

function show(element, visible) {
  element.hidden = !visible;
}

function showError(message) {
  $("error").textContent = message;
  show($("error"), Boolean(message));
}

function signedIn() {
  show($("sign-in-panel"), false);
  show($("check-panel"), true);
  $("who").textContent = `窗口：${session.clientId}`;
  show($("who"), true);
  $("scan").focus();
}

async function signIn(event) {
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
    $("sign-in-error").textContent = "登录失败：账号或密钥不正确";
    show($("sign-in-error"), true);
    return;
  }
  const body = await answer.json();
  session = { clientId, token: body.access_token, expiresAt: Date.now() + body.expires_in * 1000 };
  sessionStorage.setItem("huren-counter", JSON.stringify(session));
  $("client-secret").value = "";
  show($("sign-in-error"), false);
  signedIn();
}

function signOut(message) {
  session = null;
  sessionStorage.removeItem("huren-counter");
  show($("check-panel"), false);
  show($("result"), false);
  show($("who"), false);
  show($("sign-in-panel"), true);
  $("sign-in-error").textContent = message;
  show($("sign-in-error"), Boolean(message));
}

async function ask(path, payload) {
  showError("");
  const answer = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${session.token}` },
    body: JSON.stringify(payload),
  });
  if (answer.status === 401) {
    signOut("登录已过期，请重新登录");
    return;
  }
  if (!answer.ok) {
    const problem = await answer.json().catch(() => ({}));
    showError(answer.status === 422 ? "输入有误，请检查后重试" : `暂时无法核验（${problem.title || answer.status}）`);
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

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("scan-form").addEventListener("submit", scan);
  $("manual-form").addEventListener("submit", manual);
  if (session && session.expiresAt > Date.now() + 5000) signedIn();
  else signOut("");
});
