// The console's status section: not built yet.
import { h } from "./api.js";

export async function render(root) {
  root.append(h("div", { class: "panel" }, h("p", { class: "muted" }, "此功能正在建设中")));
}
