// flux-mock dashboard: live refresh over the mock's event feed, and the forms that call its admin routes.
"use strict";

(function () {
  const body = document.body;
  const status = document.getElementById("live-state");

  // Fetch this page again and swap in every part marked data-live; the forms keep what was typed.
  async function refresh() {
    const answer = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" });
    if (!answer.ok) return;
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
    for (const part of document.querySelectorAll("[data-live][id]")) {
      const next = fresh.getElementById(part.id);
      if (next) part.innerHTML = next.innerHTML;
    }
    bindRemoveButtons();
  }

  function listen() {
    if (!window.EventSource || !body.dataset.events) return;
    const url = body.dataset.events + "?since=" + encodeURIComponent(body.dataset.since) +
      "&jobs=" + encodeURIComponent(body.dataset.jobs);
    const feed = new EventSource(url);
    feed.addEventListener("open", () => { status.textContent = "Live updates: on"; });
    feed.addEventListener("error", () => { status.textContent = "Live updates: reconnecting…"; });
    feed.addEventListener("change", () => { refresh(); });
  }

  function headersFor(testId, header) {
    const headers = { "Content-Type": "application/json" };
    if (testId) headers[header || "X-Mock-Test-Id"] = testId;
    return headers;
  }

  async function problem(answer) {
    try {
      const detail = (await answer.json()).detail;
      if (Array.isArray(detail)) return detail.map((d) => (d.loc || []).join(".") + ": " + d.msg).join("; ");
      return String(detail);
    } catch (e) {
      return "the mock answered " + answer.status;
    }
  }

  const ruleForm = document.getElementById("rule-form");
  if (ruleForm) {
    ruleForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("rule-error");
      error.textContent = "";
      let rule;
      try {
        rule = JSON.parse(document.getElementById("rule-text").value);
      } catch (e) {
        error.textContent = "Not JSON: " + e.message;
        return;
      }
      const answer = await fetch(ruleForm.dataset.url, {
        method: "POST", body: JSON.stringify(rule),
        headers: headersFor(ruleForm.dataset.testId, ruleForm.dataset.header),
      });
      if (answer.ok) await refresh(); else error.textContent = "Refused: " + await problem(answer);
    });
  }

  function bindRemoveButtons() {
    for (const button of document.querySelectorAll(".remove-rule")) {
      button.onclick = async () => {
        const header = ruleForm ? ruleForm.dataset.header : undefined;
        await fetch(button.dataset.url, { method: "DELETE", headers: headersFor(button.dataset.testId, header) });
        await refresh();
      };
    }
  }
  bindRemoveButtons();

  const advance = document.getElementById("advance-form");
  if (advance) {
    advance.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("advance-error");
      error.textContent = "";
      const seconds = Number(document.getElementById("advance-seconds").value);
      const answer = await fetch(advance.dataset.url, {
        method: "POST", body: JSON.stringify({ advance: seconds }), headers: headersFor("", ""),
      });
      if (answer.ok) await refresh(); else error.textContent = "Refused: " + await problem(answer);
    });
  }

  listen();
})();
