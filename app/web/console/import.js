// The console's import section: pick a kind and a file, validate it, read the errors (paged by the server,
// in Chinese), commit it with a progress bar that survives a reload (the job id lives in the address), and
// the list of past imports.
import { ApiError, KIND_LABELS, api, describeError, formatTime, h, query, table } from "./api.js";

// Not certificates: the 急需紧缺人才目录's entries (admins only).
const KINDS = [...Object.entries(KIND_LABELS), ["catalogue", "人才目录"]];
const IMPORT_LABELS = Object.fromEntries(KINDS);
const REGIONS = [
  ["", "按文件中的地区"],
  ["SC", "四川（SC）"],
  ["CQ", "重庆（CQ）"],
];
const STATUS = { queued: "排队中", running: "进行中", succeeded: "已完成", failed: "失败" };
const PHASES = { validate: "校验中", commit: "写入中" };
const OUTCOMES = {
  "import.rows_rejected": "有错误行，未写入任何数据",
  "import.disk_full": "服务器导入目录空间不足，未写入任何数据；请稍后重试或拆分文件",
};
const ERROR_PAGE = 50;
const POLL_MS = 500;

function jobParam() {
  const search = window.location.hash.split("?")[1] || "";
  return new URLSearchParams(search);
}

function remember(job, total) {
  // replaceState: the address changes without a hashchange, so the page is not rendered again.
  const params = { job: job.id, total: total || "" };
  window.history.replaceState(null, "", `#/import${query(params)}`);
}

function describeOutcome(job) {
  if (job.status === "succeeded") {
    if (job.mode === "validate") return job.rejected ? `校验完成：${job.rejected} 行有错误` : "校验通过，没有错误";
    return `导入完成：新增 ${job.inserted}，更新 ${job.updated}，未变 ${job.unchanged}，跳过 ${job.rejected} 行`;
  }
  if (job.status === "failed") {
    const code = job.problem && job.problem.code;
    return OUTCOMES[code] || (job.problem && job.problem.message) || "导入失败";
  }
  if (job.stalled) return "处理进程已中断，请重新上传";
  return STATUS[job.status] || job.status;
}

// The errors of a job, one page from the server at a time (cursor stack for 上一页).
function errorsPanel(job) {
  const panel = h("div", { class: "panel", id: "import-errors" });
  const cursors = [null];
  const show = async () => {
    const cursor = cursors[cursors.length - 1];
    const page = await api("GET", `${job.errors_url}${query({ limit: ERROR_PAGE, cursor })}`);
    if (page.total !== null) panel.dataset.total = page.total;
    const total = Number(panel.dataset.total || 0);
    const rows = page.errors.map((e) =>
      h(
        "tr",
        { dataset: { row: e.row ?? "", column: e.column ?? "" } },
        h("td", {}, e.row ?? "—"),
        h("td", {}, e.column ?? "—"),
        h("td", {}, h("code", {}, e.code)),
        h("td", {}, e.message_zh || e.message),
      ),
    );
    const previous = h("button", { type: "button", disabled: cursors.length === 1 }, "上一页");
    const next = h("button", { type: "button", disabled: !page.next_cursor }, "下一页");
    previous.addEventListener("click", () => {
      cursors.pop();
      show().catch(fail);
    });
    next.addEventListener("click", () => {
      cursors.push(page.next_cursor);
      show().catch(fail);
    });
    panel.replaceChildren(
      h("h2", {}, `错误清单（共 ${total} 条）`),
      h(
        "p",
        {},
        h("a", { href: `${job.errors_url}?format=csv`, download: `errors-${job.id}.csv`, id: "errors-csv" }, "下载错误清单（CSV）"),
      ),
      table(["行", "列", "代码", "说明"], rows),
      h("div", { class: "pager" }, previous, h("span", { class: "muted" }, `第 ${cursors.length} 页`), next),
    );
  };
  const fail = (error) => panel.append(h("p", { class: "error", role: "alert" }, describeError(error)));
  show().catch(fail);
  return panel;
}

function progressView(job, total) {
  const done = job.status === "succeeded" || job.status === "failed";
  const max = total || job.total_rows || 0;
  const value = done ? max || 1 : Math.min(job.processed_rows, max);
  const bar = h("progress", { id: "import-progress", max: max || 1, value: done ? max || 1 : value });
  let speed = "";
  if (!done && job.started_at && job.processed_rows > 0) {
    const seconds = Math.max((Date.now() - new Date(job.started_at).getTime()) / 1000, 0.001);
    const rate = job.processed_rows / seconds;
    const left = max > job.processed_rows ? Math.ceil((max - job.processed_rows) / rate) : 0;
    speed = `${Math.round(rate)} 行/秒${max ? `，预计还需 ${left} 秒` : ""}`;
  }
  const percent = max ? Math.floor(((done ? max : value) / max) * 100) : done ? 100 : 0;
  return h(
    "div",
    { class: "panel", id: "import-job", dataset: { status: job.status } },
    h("h2", {}, `${job.mode === "commit" ? "导入" : "校验"}：${job.file_name}`),
    h("p", {}, done ? "" : `${PHASES[job.phase] || STATUS[job.status] || ""} `, `${job.processed_rows} / ${max || "?"} 行`),
    h("p", {}, bar, " ", h("span", { id: "import-percent" }, `${percent} %`), " ", h("span", { class: "muted" }, speed)),
    h("p", { class: job.status === "failed" ? "error" : done ? "ok" : "muted", id: "import-outcome" }, describeOutcome(job)),
  );
}

// Polls a job until it ends, redrawing its progress in `slot`; resolves with the finished job.
async function follow(job, slot, total) {
  let current = job;
  for (;;) {
    slot.replaceChildren(progressView(current, total));
    if (current.status === "succeeded" || current.status === "failed" || current.stalled) return current;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!slot.isConnected) return current; // the person left the section
    current = await api("GET", `/v1/imports/${current.id}`);
  }
}

function uploadForm(onStart, onValidated, onCommitted) {
  const kind = h("select", { id: "import-kind", name: "kind" }, KINDS.map(([key, label]) => h("option", { value: key }, label)));
  const region = h("select", { id: "import-region", name: "region" }, REGIONS.map(([key, label]) => h("option", { value: key }, label)));
  const file = h("input", { id: "import-file", type: "file", accept: ".csv,.xlsx,.jsonl,.json", required: true });
  const templates = h("span", { id: "import-templates" });
  const drawTemplates = () =>
    templates.replaceChildren(
      "模板：",
      h("a", { href: `/v1/imports/templates/${kind.value}.csv`, download: `${kind.value}.csv`, id: "template-link" }, `${IMPORT_LABELS[kind.value]}导入模板（CSV）`),
    );
  kind.addEventListener("change", drawTemplates);
  drawTemplates();
  const validate = h("button", { type: "submit", class: "primary" }, "校验文件");
  const message = h("p", { role: "status" });
  const form = h(
    "form",
    { class: "panel", id: "import-form" },
    h("h2", {}, "导入登记数据"),
    h("p", {}, h("label", { for: "import-kind" }, "证书类别", kind), h("label", { for: "import-region" }, "地区", region), templates),
    h("p", {}, h("label", { for: "import-file" }, "文件（CSV、XLSX 或 JSONL）", file)),
    h("p", {}, validate),
    message,
  );
  const send = async (mode, onError) => {
    const body = new FormData();
    body.append("file", file.files[0]);
    const params = { kind: kind.value, mode, region: region.value, on_error: onError };
    const extraHeaders = mode === "commit" ? { "Idempotency-Key": crypto.randomUUID() } : {};
    return api("POST", `/v1/imports${query(params)}`, body, { extraHeaders });
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!file.files.length) {
      message.textContent = "请选择要导入的文件";
      return;
    }
    validate.disabled = true;
    onStart();
    message.className = "muted";
    message.textContent = "正在上传并校验…";
    try {
      const job = await send("validate");
      message.textContent = "";
      await onValidated(job, (onError) => send("commit", onError).then(onCommitted));
    } catch (error) {
      message.className = "error";
      message.textContent = describeFileError(error);
    } finally {
      validate.disabled = false;
    }
  });
  return form;
}

function describeFileError(error) {
  if (error instanceof ApiError && error.problem.code && error.problem.code.match(/^(file|header|csv|xlsx|jsonl)\./)) {
    const where = error.problem.row ? `（第 ${error.problem.row} 行）` : "";
    return `文件无法导入${where}：${error.problem.detail}`;
  }
  return describeError(error);
}

function commitChoice(validated, commit, slot) {
  const abort = h("input", { type: "radio", name: "on_error", value: "abort", id: "on-error-abort", checked: true });
  const skip = h("input", { type: "radio", name: "on_error", value: "skip", id: "on-error-skip" });
  const button = h("button", { type: "button", class: "primary", id: "import-commit" }, "提交导入");
  const status = h("p", { role: "status" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "正在提交…";
    try {
      await commit(skip.checked ? "skip" : "abort");
      status.textContent = "";
    } catch (error) {
      status.className = "error";
      status.textContent = describeFileError(error);
      button.disabled = false;
    }
  });
  const clean = validated.total_rows - validated.rejected;
  return h(
    "div",
    { class: "panel", id: "import-choice" },
    h("h2", {}, "提交导入"),
    h("p", {}, `共 ${validated.total_rows} 行，其中 ${clean} 行无误，${validated.rejected} 行有错误。`),
    h(
      "fieldset",
      {},
      h("legend", {}, "有错误行时"),
      h("label", { for: "on-error-abort" }, abort, "全部无误才导入（全部或全不）"),
      h("label", { for: "on-error-skip" }, skip, "跳过错误行，导入其余行"),
    ),
    h("p", {}, button),
    status,
    slot,
  );
}

async function jobList(root) {
  const panel = h("div", { class: "panel", id: "import-jobs" });
  const cursors = [null];
  const draw = async () => {
    const page = await api("GET", `/v1/imports${query({ limit: 10, cursor: cursors[cursors.length - 1] })}`);
    const rows = page.items.map((job) =>
      h(
        "tr",
        {},
        h("td", {}, formatTime(job.created_at)),
        h("td", {}, IMPORT_LABELS[job.kind] || job.kind),
        h("td", {}, h("a", { href: `#/import${query({ job: job.id })}` }, job.file_name || job.id)),
        h("td", {}, job.actor || `客户端 ${job.client_id}`),
        h("td", {}, job.mode === "commit" ? "导入" : "校验"),
        h("td", {}, job.stalled ? "已中断" : STATUS[job.status] || job.status),
        h("td", {}, job.total_rows ?? job.processed_rows),
        h("td", {}, `${job.inserted} / ${job.updated} / ${job.unchanged} / ${job.rejected}`),
        h("td", {}, describeOutcome(job)),
      ),
    );
    const previous = h("button", { type: "button", disabled: cursors.length === 1 }, "上一页");
    const next = h("button", { type: "button", disabled: !page.next_cursor }, "下一页");
    previous.addEventListener("click", () => (cursors.pop(), draw()));
    next.addEventListener("click", () => (cursors.push(page.next_cursor), draw()));
    panel.replaceChildren(
      h("h2", {}, "导入记录"),
      table(["时间", "类别", "文件", "发起人", "方式", "状态", "行数", "新增 / 更新 / 未变 / 拒绝", "结果"], rows),
      h("div", { class: "pager" }, previous, next),
    );
  };
  root.append(panel);
  await draw();
  return () => {
    cursors.splice(1);
    draw().catch(() => null);
  };
}

export async function render(root) {
  const work = h("div", { id: "import-work" });
  const params = jobParam();
  let refreshList = () => null;
  const showFinished = (job) => {
    refreshList();
    if (job.rejected || job.status === "failed") work.append(errorsPanel(job));
  };
  const onCommitted = async (job) => {
    const total = work.dataset.total;
    remember(job, total);
    const slot = h("div");
    work.replaceChildren(slot);
    const finished = await follow(job, slot, Number(total) || 0);
    showFinished(finished);
  };
  const onValidated = async (job, commit) => {
    work.dataset.total = job.total_rows ?? "";
    const slot = h("div");
    work.replaceChildren(slot);
    const finished = await follow(job, slot, 0);
    work.dataset.total = finished.total_rows ?? "";
    if (finished.status !== "succeeded") return showFinished(finished);
    showFinished(finished);
    if (finished.total_rows > finished.rejected) work.append(commitChoice(finished, commit, h("div")));
  };
  const onStart = () => {
    work.replaceChildren();
    window.history.replaceState(null, "", "#/import");
  };
  root.append(uploadForm(onStart, onValidated, onCommitted), work);
  const listed = h("div");
  root.append(listed);
  const jobId = params.get("job");
  if (jobId) {
    // A reload (or a link from the list): pick up the job where it is.
    const job = await api("GET", `/v1/imports/${encodeURIComponent(jobId)}`);
    const slot = h("div");
    work.replaceChildren(slot);
    follow(job, slot, Number(params.get("total")) || 0).then(showFinished, (error) => work.append(h("p", { class: "error" }, describeError(error))));
  }
  refreshList = await jobList(listed);
}
