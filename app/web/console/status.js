// The console's status section (状态变更): a filter, its preview (count, sample, what the state machine would
// refuse), a confirmed change with a reason that runs as a job, and its progress to the end.
import { KIND_LABELS, REGION_LABELS, STATUS_LABELS, api, describeError, formatDate, formatTime, h, table } from "./api.js";

const TARGETS = [
  ["suspended", "暂扣"],
  ["revoked", "撤销"],
  ["cancelled", "注销"],
  ["active", "恢复有效（暂扣发还）"],
  ["transferred", "转出"],
];
const KINDS = [["", "全部"], ...Object.entries(KIND_LABELS)];
const REGIONS = [["", "全部"], ...Object.entries(REGION_LABELS)];
const REFUSALS = {
  "status.unchanged": "已是目标状态",
  "status.forbidden_transition": "当前状态不允许此变更",
};
const JOB_STATES = { queued: "排队中", running: "执行中", succeeded: "已完成", failed: "失败" };
const POLL_MS = 500;

function field(label, control) {
  return h("label", {}, label, control);
}

function options(pairs, selected) {
  return pairs.map(([value, text]) => h("option", { value, selected: value === selected }, text));
}

// Initial values from the address, e.g. #/status?import_job=… (a link from an import job).
function fromAddress() {
  const query = window.location.hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(query));
}

export async function render(root) {
  const initial = fromAddress();
  const inputs = {
    issuer_usci: h("input", { id: "f-issuer", size: 20, maxlength: 18, value: initial.issuer_usci || "" }),
    import_job: h("input", { id: "f-job", size: 34, maxlength: 32, value: initial.import_job || "" }),
    issued_from: h("input", { id: "f-from", type: "date" }),
    issued_to: h("input", { id: "f-to", type: "date" }),
    kind: h("select", { id: "f-kind" }, options(KINDS, initial.kind || "")),
    region: h("select", { id: "f-region" }, options(REGIONS, initial.region || "")),
  };
  const target = h("select", { id: "f-target" }, options(TARGETS, "suspended"));
  const previewButton = h("button", { type: "submit", class: "primary" }, "预览");
  const message = h("p", { role: "status" });
  const previewArea = h("div", {});
  const jobArea = h("div", { "aria-live": "polite" });
  const recent = h("div", {});

  const form = h(
    "form",
    { class: "panel", id: "status-filter" },
    h("h2", {}, "批量状态变更"),
    h("p", { class: "muted" }, "按条件筛选证书，先预览数量与样例，再填写原因确认执行。"),
    h(
      "div",
      {},
      field("发证机构统一社会信用代码", inputs.issuer_usci),
      field("导入任务编号", inputs.import_job),
    ),
    h(
      "div",
      {},
      field("发证日期 从", inputs.issued_from),
      field("至", inputs.issued_to),
      field("证书类别", inputs.kind),
      field("地区", inputs.region),
    ),
    h("div", {}, field("变更为", target), previewButton),
    message,
  );

  function currentFilter() {
    const filter = {};
    for (const [name, input] of Object.entries(inputs)) {
      const value = input.value.trim();
      if (value) filter[name] = name === "issuer_usci" ? value.toUpperCase() : value;
    }
    return filter;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    message.className = "";
    previewArea.replaceChildren();
    jobArea.replaceChildren();
    const filter = currentFilter();
    if (!Object.keys(filter).length) {
      message.textContent = "请至少填写一个筛选条件";
      message.className = "error";
      return;
    }
    const body = { filter, status: target.value };
    try {
      previewButton.disabled = true;
      const preview = await api("POST", "/v1/admin/status-changes/preview", body);
      showPreview(preview, body);
    } catch (error) {
      message.textContent = describeError(error);
      message.className = "error";
    } finally {
      previewButton.disabled = false;
    }
  });

  function showPreview(preview, body) {
    const label = STATUS_LABELS[body.status];
    const rows = preview.sample.map((row) =>
      h(
        "tr",
        {},
        h("td", {}, row.number),
        h("td", {}, KINDS.find(([k]) => k === row.kind)?.[1] || row.kind),
        h("td", {}, row.region),
        h("td", {}, row.holder_name),
        h("td", {}, row.holder_id_masked),
        h("td", {}, row.issuer_name),
        h("td", {}, formatDate(row.issued_on)),
        h("td", {}, STATUS_LABELS[row.status] || row.status),
        h("td", { class: row.refused_code ? "error" : "ok" }, row.refused_code ? REFUSALS[row.refused_code] || row.refused_code : "可变更"),
      ),
    );
    const summary = h(
      "p",
      { id: "preview-summary" },
      `符合条件 ${preview.count} 条，其中 ${preview.refused_by_state_machine} 条因当前状态不能变更为「${label}」。`,
    );
    previewArea.append(
      h(
        "section",
        { class: "panel", "aria-labelledby": "preview-title" },
        h("h2", { id: "preview-title" }, "预览"),
        summary,
        preview.count
          ? table(
              ["证书编号", "类别", "地区", "持证人", "证件号码", "发证机构", "发证日期", "当前状态", "预计结果"],
              rows,
            )
          : h("p", { class: "muted" }, "没有符合条件的证书"),
        preview.count > preview.sample.length
          ? h("p", { class: "muted" }, `仅显示前 ${preview.sample.length} 条`)
          : null,
        preview.count ? confirmForm(preview, body) : null,
      ),
    );
  }

  function confirmForm(preview, body) {
    const reason = h("textarea", { id: "f-reason", rows: 2, cols: 60, maxlength: 500, required: true });
    const run = h("button", { type: "submit", class: "danger" }, "确认执行");
    const note = h("p", { role: "status" });
    const confirmation = h(
      "form",
      { id: "status-confirm" },
      h("div", {}, field("变更原因（必填）", reason)),
      run,
      note,
    );
    confirmation.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        note.textContent = "请填写变更原因";
        note.className = "error";
        reason.focus();
        return;
      }
      const question = `确认将 ${preview.count} 条证书变更为「${STATUS_LABELS[body.status]}」？此操作逐条记入审计日志。`;
      if (!window.confirm(question)) return;
      run.disabled = true;
      try {
        const job = await api("POST", "/v1/admin/status-changes", { ...body, reason: text });
        await follow(job.id);
      } catch (error) {
        note.textContent = describeError(error);
        note.className = "error";
        run.disabled = false;
      }
    });
    return confirmation;
  }

  async function follow(jobId) {
    const bar = h("progress", { id: "job-progress", max: 1, value: 0 });
    const counts = h("p", { id: "job-counts" });
    jobArea.replaceChildren(
      h("section", { class: "panel" }, h("h2", {}, "执行进度"), bar, counts),
    );
    for (;;) {
      const job = await api("GET", `/v1/admin/status-changes/${jobId}`);
      bar.max = Math.max(job.total, 1);
      bar.value = job.done;
      const refusals = Object.entries(job.refusals)
        .map(([code, n]) => `${REFUSALS[code] || code} ${n} 条`)
        .join("，");
      counts.textContent =
        `${JOB_STATES[job.status]}：已处理 ${job.done} / ${job.total}，已变更 ${job.changed} 条，` +
        `状态机拒绝 ${job.refused} 条${refusals ? `（${refusals}）` : ""}`;
      if (job.status === "succeeded" || job.status === "failed") {
        counts.className = job.status === "succeeded" ? "ok" : "error";
        counts.dataset.state = job.status;
        await showRecent();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function showRecent() {
    const page = await api("GET", "/v1/admin/status-changes?limit=10");
    const rows = page.items.map((job) =>
      h(
        "tr",
        {},
        h("td", {}, formatTime(job.created_at)),
        h("td", {}, job.actor || job.client_id),
        h("td", {}, STATUS_LABELS[job.target_status] || job.target_status),
        h("td", {}, job.reason),
        h("td", {}, JOB_STATES[job.status] || job.status),
        h("td", {}, `${job.changed} / ${job.total}`),
        h("td", {}, String(job.refused)),
      ),
    );
    recent.replaceChildren(
      h(
        "section",
        { class: "panel" },
        h("h2", {}, "最近的批量变更"),
        rows.length
          ? table(["开始时间", "执行人", "变更为", "原因", "状态", "已变更 / 总数", "拒绝"], rows)
          : h("p", { class: "muted" }, "暂无"),
      ),
    );
  }

  root.append(form, previewArea, jobArea, recent);
  await showRecent();
}
