// A person's sign-in, shared by the counter page and the sign-in page (/signin): the request, what each
// refusal means in Chinese, the first sign-in's enrolment (the server's QR code and the secret as text),
// the ways this node offers, and the single sign-on callback's refusals.
// The session is an httpOnly cookie the pages never see; the answer carries the CSRF token they send back.

const SVG_NS = "http://www.w3.org/2000/svg";

export const SSO_ERRORS = {
  "sso.refused": "统一身份认证未通过：该账号未被授予本系统的角色，或认证被拒绝",
  "sso.expired": "统一身份认证已超时或不是从本页发起，请重新登录",
  "sso.unavailable": "统一身份认证服务暂时不可用，请稍后重试或使用账号密码登录",
};

export const ENROL_HINT = "请先绑定身份验证器，再输入其显示的动态验证码并登录";
export const OTP_HINT = "请输入身份验证器显示的 6 位动态验证码";

export function parseSvg(text) {
  // The QR code comes drawn by the server (the pages have no QR library, and may show no image from
  // elsewhere): parsed as SVG, never as HTML, and taken only if it is one <svg> element.
  if (typeof text !== "string") return null;
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = parsed.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg") return null;
  if (parsed.getElementsByTagName("parsererror").length > 0) return null;
  return document.importNode(root, true);
}

export function secretOf(uri) {
  try {
    return new URL(uri).searchParams.get("secret") || "";
  } catch {
    return "";
  }
}

function waitMessage(answer, reason) {
  const seconds = Number(answer.headers.get("Retry-After"));
  if (!(seconds > 0)) return `${reason}，请稍后再试`;
  return `${reason}，请 ${Math.ceil(seconds / 60)} 分钟后再试`;
}

function refusalMessage(answer, problem) {
  if (problem.code === "session.invalid") return "登录失败：用户名、密码或动态验证码不正确";
  if (problem.code === "session.locked") return waitMessage(answer, "登录失败次数过多，该用户名已暂时锁定");
  if (answer.status === 429) return waitMessage(answer, "登录尝试过于频繁");
  if (problem.code === "session.origin") return "请通过本系统的正式地址打开本页后再登录";
  return `登录失败（${problem.title || answer.status}）`;
}

// POST /v1/session. The outcome is one of
//   { kind: "signed-in", session }              the session's answer (with csrf_token)
//   { kind: "enrol", picture, secret }          first sign-in: enrol an authenticator app, then send a code
//   { kind: "otp" }                             the password is right: a code is needed
//   { kind: "refused", message }                in Chinese, for the page to show
export async function signInPerson(username, password, otp) {
  const payload = { username, password };
  if (otp) payload.otp = otp;
  let answer;
  try {
    answer = await fetch("/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
  } catch {
    return { kind: "refused", message: "无法连接服务器，请稍后重试" };
  }
  if (answer.ok) return { kind: "signed-in", session: await answer.json() };
  const problem = await answer.json().catch(() => ({}));
  if (problem.code === "session.otp_enrolment_required") {
    return { kind: "enrol", picture: parseSvg(problem.otp_qr_svg), secret: secretOf(problem.otp_uri) };
  }
  if (problem.code === "session.otp_required") return { kind: "otp" };
  return { kind: "refused", message: refusalMessage(answer, problem) };
}

// The ways this node offers ("password", and "oidc" where single sign-on is set up).
export async function listSignInMethods() {
  const answer = await fetch("/v1/session/methods").catch(() => null);
  const body = answer && answer.ok ? await answer.json().catch(() => ({})) : {};
  return Array.isArray(body.methods) ? body.methods : [];
}

// The single sign-on callback sends the browser back with ?sso_error=<code> when it refused: the message
// for it (or ""), and the address without it, so that a reload does not say it again.
export function takeSsoError() {
  const url = new URL(window.location.href);
  const code = url.searchParams.get("sso_error");
  if (!code) return "";
  url.searchParams.delete("sso_error");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  return SSO_ERRORS[code] || SSO_ERRORS["sso.refused"];
}
