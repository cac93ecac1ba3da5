// The statistics page: draws a transfer's snapshot, then follows the
// server-sent events of /statistics/events until the transfer completes.
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var number = new Intl.NumberFormat();
  var params = new URLSearchParams(window.location.search);
  var transferId = params.get("transfer_id");

  function fmtTime(text) {
    if (!text) return "–";
    var d = new Date(text);
    return isNaN(d) ? text : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  // Percent done, or null while it cannot be known (a pull's total is
  // known only at the end).
  function percent(s) {
    if (s.completed) return 100;
    var st = s.statistics || {};
    var done = st.batches_success || 0, queued = st.batches_queued || 0;
    if (s.method === "EXPORT" && done + queued > 0) return Math.floor(100 * done / (done + queued));
    if (s.method === "EXPORT" && st.records > 0) return Math.floor(100 * (st.records_transferred || 0) / st.records);
    return null;
  }

  function render(s) {
    var st = s.statistics || {};
    var status = s.status || (s.completed ? "completed" : "running");
    var badge = $("status");
    badge.setAttribute("data-status", status);
    badge.textContent = status.charAt(0).toUpperCase() + status.slice(1);

    var p = percent(s);
    var bar = $("bar");
    bar.classList.toggle("indeterminate", p === null);
    bar.classList.toggle("complete", status === "completed");
    bar.classList.toggle("failed", status === "failed");
    if (p === null) {
      bar.removeAttribute("aria-valuenow");
      $("percent").textContent = number.format(st.records_transferred || 0);
      $("progress-caption").textContent = status === "queued" ? "Waiting to start" : "records so far";
    } else {
      bar.setAttribute("aria-valuenow", String(p));
      $("bar-fill").style.width = p + "%";
      $("percent").textContent = p + "%";
      $("progress-caption").textContent = number.format(st.records_transferred || 0) + " of " +
        number.format(st.records || 0) + " records";
    }
    if (status === "failed" && s.error) $("progress-caption").textContent = s.error;

    $("records").textContent = number.format(st.records_transferred || 0) +
      (s.method === "EXPORT" ? " / " + number.format(st.records || 0) : "");
    $("batches-success").textContent = number.format(st.batches_success || 0);
    $("batches-queued").textContent = number.format(st.batches_queued || 0);
    $("batches-fail").textContent = number.format(st.batches_fail || 0);
    $("batch-size").textContent = st.batch_size ? number.format(st.batch_size) : "–";
    $("initiated").textContent = fmtTime(s.initiated);

    var errors = (s.errors && s.errors.items) || [];
    $("error-count").textContent = String((s.errors && s.errors.total) || 0);
    $("no-errors").hidden = errors.length > 0;
    var list = $("errors");
    list.textContent = "";
    errors.forEach(function (e) {
      var li = document.createElement("li");
      var msg = document.createElement("p");
      msg.className = "error-message";
      msg.textContent = (e.index != null ? "Item " + e.index + ": " : "") + e.message;
      var fix = document.createElement("p");
      fix.className = "error-resolve";
      fix.textContent = e.error_resolve_text;
      li.appendChild(msg);
      li.appendChild(fix);
      list.appendChild(li);
    });
    $("live").textContent = s.completed ? "This transfer has finished." : "Updating live…";
  }

  var initial = $("initial");
  var snapshot = null;
  try { snapshot = JSON.parse(initial.textContent); } catch (e) { snapshot = null; }
  if (snapshot) render(snapshot);
  if (!transferId || (snapshot && snapshot.completed) || !window.EventSource) return;

  var source = new EventSource("/statistics/events?transfer_id=" + encodeURIComponent(transferId));
  source.addEventListener("statistics", function (event) {
    var s;
    try { s = JSON.parse(event.data); } catch (e) { return; }
    render(s);
    if (s.completed) source.close();
  });
  source.onerror = function () {
    $("live").textContent = "Reconnecting…";
  };
})();
