// The developer dashboard: a small single-page app over the JSON API. The
// API key (and the admin key, for connectors and keys) live in this tab's
// sessionStorage only. Views are chosen by the URL hash (#/sessions, ...).
(function () {
  "use strict";

  var store = window.sessionStorage;
  var KEY = "switchyard.api_key", ACCOUNT = "switchyard.account", ADMIN = "switchyard.admin_key";
  var number = new Intl.NumberFormat();
  var view = document.getElementById("view");
  var timer = null;       // the live refresh of the current view
  var generation = 0;     // bumps on every navigation; stale answers are dropped

  // ---------- DOM helpers ----------
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v == null || v === false) return;
        if (k === "text") el.textContent = v;
        else if (k === "class") el.className = v;
        else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? "" : v);
      });
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  // Appends every argument after the first (nodes, text, arrays of them).
  function add(el) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child == null || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { add(el, c); }); continue; }
      el.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
  function toast(message, bad) {
    var t = document.getElementById("toast");
    t.textContent = message;
    t.classList.toggle("bad", !!bad);
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 4000);
  }
  function fmtTime(text) {
    if (!text) return "–";
    var d = new Date(text);
    if (isNaN(d)) return text;
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  function relative(text) {
    if (!text) return "Never";
    var d = new Date(text), s = (d - Date.now()) / 1000;
    var rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    var abs = Math.abs(s);
    if (abs < 60) return rtf.format(Math.round(s), "second");
    if (abs < 3600) return rtf.format(Math.round(s / 60), "minute");
    if (abs < 86400) return rtf.format(Math.round(s / 3600), "hour");
    return rtf.format(Math.round(s / 86400), "day");
  }
  function label(status) {
    return ({ reauthentication_required: "Sign-in needed", choosing: "Choosing data", waiting: "Not connected" })[status] ||
      status.charAt(0).toUpperCase() + status.slice(1);
  }
  function badge(status) { return h("span", { class: "badge", "data-status": status, text: label(status) }); }
  function typeLabel(t) {
    return ({ "crm-contact": "Contacts", "crm-company": "Companies", "accounting-customer": "Customers", "accounting-invoice": "Invoices" })[t] || t;
  }
  // Provider display names by id, from the public integrations list.
  var providerNames = {};
  function loadProviderNames() {
    return fetch("/api/integrations").then(function (r) { return r.ok ? r.json() : { providers: [] }; }).then(function (answer) {
      (answer.providers || []).forEach(function (p) { providerNames[p.provider.name] = p.provider.display_name; });
    }, function () { /* names fall back to ids */ });
  }
  function providerCell(id, name) {
    if (!id) return h("span", { class: "muted", text: "—" });
    name = name || providerNames[id];
    return h("span", { class: "cell-provider" },
      h("img", { src: "/api/integrations/" + encodeURIComponent(id) + "/logo.svg", alt: "", width: 22, height: 22, title: name || id }),
      h("span", { class: "provider-label", text: name || id }));
  }
  function empty(title, detail) {
    return h("div", { class: "empty" }, h("strong", { text: title }), detail);
  }
  function copyButton(getText) {
    return h("button", {
      class: "btn secondary small", type: "button", onclick: function () {
        var text = getText();
        var done = function () { toast("Copied to the clipboard."); };
        if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, function () { toast("Select the text and copy it.", true); });
        else toast("Select the text and copy it.");
      }
    }, "Copy");
  }
  function panel(title, actions, body) {
    return h("section", { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", { text: title }), actions),
      body);
  }
  function pageHead(title, detail, tools) {
    return h("div", { class: "page-head" }, h("div", null, h("h1", { text: title }), detail ? h("p", { text: detail }) : null), tools);
  }

  // ---------- API ----------
  function api(path, options, admin) {
    options = options || {};
    var headers = options.headers || {};
    var key = admin ? store.getItem(ADMIN) : store.getItem(KEY);
    if (key) headers["Authorization"] = "Bearer " + key;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(options.json);
    }
    return fetch(path, { method: options.method || "GET", headers: headers, body: options.body }).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = { message: text }; }
        if (!r.ok) {
          var err = new Error((body && body.message) || ("The server answered " + r.status + "."));
          err.status = r.status;
          err.admin = !!admin;
          throw err;
        }
        return body;
      });
    });
  }
  function failed(err) {
    if (err.status === 401 && !err.admin) { signOut("Your API key is no longer valid. Sign in again."); return; }
    toast(err.message, true);
  }

  // ---------- Transfers (shared by several views) ----------
  function percent(t) {
    if (t.completed) return 100;
    var s = t.statistics || {}, done = s.batches_success || 0, queued = s.batches_queued || 0;
    if (t.method === "EXPORT" && done + queued > 0) return Math.floor(100 * done / (done + queued));
    return null;
  }
  function progressCell(t) {
    var p = percent(t), s = t.statistics || {};
    var bar = h("div", { class: "bar small" + (p === null ? " indeterminate" : "") + (t.status === "completed" ? " complete" : "") + (t.status === "failed" ? " failed" : ""), role: "progressbar", "aria-label": "Progress", "aria-valuemin": 0, "aria-valuemax": 100 });
    var fill = h("span", { class: "bar-fill" });
    if (p !== null) { fill.style.width = p + "%"; bar.setAttribute("aria-valuenow", String(p)); }
    if (t.status === "queued") { bar.classList.remove("indeterminate"); }
    bar.appendChild(fill);
    var text = number.format(s.records_transferred || 0) + (t.method === "EXPORT" ? " / " + number.format(s.records || 0) : "") + " records";
    return h("div", { class: "progress-cell" }, bar, h("span", { class: "records", text: text }));
  }
  function transferTable(transfers, withSession) {
    if (!transfers.length) return empty("No transfers yet", "Transfers appear here as soon as your app triggers a pull or a push.");
    return h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, h("th", { text: "Transfer" }), withSession ? h("th", { class: "hide-sm", text: "Session" }) : null,
        h("th", { text: "Status" }), h("th", { text: "Progress" }), h("th", { text: "" }))),
      h("tbody", null, transfers.map(function (t) {
        return h("tr", { "data-transfer": t.transfer_id },
          h("td", { class: "nowrap" }, h("span", { class: "primary-text", text: (t.method === "IMPORT" ? "Pull " : "Push ") + typeLabel(t.endgrate_type) + (t.sample_data ? " (sample)" : "") }),
            h("span", { class: "sub", title: t.transfer_id, text: fmtTime(t.initiated) + " · " + t.transfer_id.slice(0, 8) + (t.retry_of ? " · retry of " + t.retry_of.slice(0, 8) : "") })),
          withSession ? h("td", { class: "hide-sm nowrap" }, h("a", { href: "#/sessions/" + encodeURIComponent(t.session_id), text: t.session_name || "Untitled session" })) : null,
          h("td", null, badge(t.cancelled ? "cancelled" : t.status)),
          h("td", null, progressCell(t)),
          h("td", { class: "nowrap row-actions" }, h("a", { href: t.statistics_page, target: "_blank", rel: "noopener", text: "Statistics" }), transferActions(t)));
      }))));
  }
  // Retry (a finished transfer, as a new one) and Cancel (an unfinished one).
  function transferActions(t) {
    var act = function (action, done) {
      return function (event) {
        var button = event.currentTarget;
        button.disabled = true;
        api("/api/transfers/" + encodeURIComponent(t.transfer_id) + "/" + action, { method: "POST" }).then(function (answer) {
          toast(done(answer));
          views.refresh();
        }, function (err) { button.disabled = false; failed(err); });
      };
    };
    if (!t.completed) {
      return h("button", {
        class: "btn danger small", type: "button", "data-cancel-transfer": t.transfer_id, onclick: function (event) {
          if (!window.confirm("Cancel this transfer? It stops at its next page or batch; what it stored so far stays readable.")) return;
          act("cancel", function () { return "Transfer cancelled."; })(event);
        }
      }, "Cancel");
    }
    if (t.sample_data) return null;
    return h("button", {
      class: "btn secondary small", type: "button", "data-retry-transfer": t.transfer_id,
      onclick: act("retry", function (answer) { return "Queued again as " + answer.transfer_id.slice(0, 8) + "."; })
    }, "Retry");
  }

  // Refreshes `load` every 1.5 s while `running()` says something is moving.
  function live(load) {
    var mine = generation;
    var tick = function () {
      if (mine !== generation) return;
      load().then(function (moving) {
        if (mine !== generation) return;
        timer = setTimeout(tick, moving ? 1500 : 10000);
      }, function (err) { failed(err); });
    };
    tick();
  }

  // ---------- Views ----------
  var views = {};

  // Deletes a session and everything stored for it, after asking.
  function deleteSessionButton(s, deleted) {
    return h("button", {
      class: "btn danger small", type: "button", "data-delete-session": s.session_id, onclick: function (event) {
        event.stopPropagation();
        if (!window.confirm("Delete " + (s.name || "this session") + "? Its credentials, transfers and records are deleted, and its end user has to connect again.")) return;
        api("/api/session/delete", { method: "POST", json: { session_id: s.session_id } }).then(function () { toast("Session deleted."); deleted(); }, failed);
      }
    }, "Delete");
  }

  views.sessions = function () {
    var search = h("input", { type: "search", id: "session-search", placeholder: "Search by name, id or provider", "aria-label": "Search sessions" });
    var body = h("div", null, empty("Loading…"));
    var offset = 0, limit = 25;
    var load = function () {
      var mine = generation;
      var q = "/api/sessions?limit=" + limit + "&offset=" + offset + (search.value.trim() ? "&search=" + encodeURIComponent(search.value.trim()) : "");
      api(q).then(function (answer) {
        if (mine !== generation) return;
        clear(body);
        var rows = answer.sessions || [];
        if (!rows.length) {
          add(body, search.value.trim() ? empty("No session matches", "Try another name, id or provider.") :
            empty("No sessions yet", h("span", null, "Create one with ", h("code", { text: "POST /api/session/initiate" }), ".")));
          return;
        }
        add(body, h("div", { class: "table-wrap" }, h("table", null,
          h("thead", null, h("tr", null, h("th", { text: "Session" }), h("th", { text: "Provider" }), h("th", { text: "Status" }),
            h("th", { class: "hide-sm", text: "Created" }), h("th", { class: "hide-sm", text: "Expires" }), h("th", { text: "" }))),
          h("tbody", null, rows.map(function (s) {
            var status = s.reauth_required ? "reauthentication_required" : s.configured ? "connected" : s.choosing ? "choosing" : "waiting";
            var href = "#/sessions/" + encodeURIComponent(s.session_id);
            return h("tr", { class: "clickable", onclick: function () { location.hash = href; } },
              h("td", null, h("a", { class: "primary-text", href: href, text: s.name || "Untitled session" }), h("span", { class: "sub", text: s.session_id })),
              h("td", null, providerCell(s.provider)),
              h("td", null, badge(status)),
              h("td", { class: "hide-sm nowrap", text: fmtTime(s.created) }),
              h("td", { class: "hide-sm nowrap", text: s.expires ? relative(s.expires) : "Kept" }),
              h("td", { class: "nowrap" }, deleteSessionButton(s, load)));
          })))));
        var meta = answer.meta || {};
        add(body, h("div", { class: "pager" },
          h("span", { text: (offset + 1) + "–" + (offset + rows.length) + " of " + number.format(meta.count || rows.length) }),
          h("span", null,
            h("button", { class: "btn secondary small", type: "button", disabled: offset === 0, onclick: function () { offset = Math.max(0, offset - limit); load(); } }, "Previous"),
            h("button", { class: "btn secondary small", type: "button", disabled: !meta.next, onclick: function () { offset += limit; load(); } }, "Next"))));
      }, failed);
    };
    var debounce = null;
    search.addEventListener("input", function () { clearTimeout(debounce); debounce = setTimeout(function () { offset = 0; load(); }, 200); });
    add(view, pageHead("Sessions", "Each session links one of your end users to a provider account.", h("div", { class: "toolbar" }, search)),
      h("section", { class: "panel" }, body));
    load();
  };

  views.session = function (id) {
    var holder = h("div", null, empty("Loading…"));
    add(view, h("a", { class: "back-link", href: "#/sessions", text: "← All sessions" }), holder);
    var transfersBody = h("div", null, empty("Loading…"));
    var errorsBody = h("div", null, empty("Loading…"));
    api("/api/sessions/" + encodeURIComponent(id)).then(function (answer) {
      var s = answer.session;
      clear(holder);
      var link = function (labelText, url, idAttr) {
        var input = h("input", { type: "text", readonly: true, value: url, id: idAttr, "aria-label": labelText });
        return h("div", { class: "field" }, h("label", { for: idAttr, text: labelText }),
          h("div", { class: "copy-row" }, input, copyButton(function () { return url; })));
      };
      add(holder,
        pageHead(s.name || "Untitled session", s.session_id, h("div", { class: "toolbar" }, badge(s.status),
          deleteSessionButton(s, function () { location.hash = "#/sessions"; }))),
        s.reauth_required ? h("div", { class: "notice error", role: "alert" },
          "The provider no longer accepts this session's credentials. Send the end user the re-authentication link below; waiting transfers resume once they sign in.") : null,
        h("div", { class: "grid-2" },
          panel("Overview", null, h("div", { class: "panel-body" }, h("dl", { class: "kv" },
            h("dt", { text: "Provider" }), h("dd", null, providerCell(s.provider, s.provider_display_name)),
            h("dt", { text: "Created" }), h("dd", { text: fmtTime(s.created) }),
            h("dt", { text: "Connected" }), h("dd", { text: s.configured_at ? fmtTime(s.configured_at) : "Not yet" }),
            h("dt", { text: "Expires" }), h("dd", { text: s.expires ? fmtTime(s.expires) : "Kept (save_session)" }),
            h("dt", { text: "Redirect" }), h("dd", { text: s.options.redirect_url || "—" }),
            h("dt", { text: "Data" }), h("dd", null, h("ul", { class: "tags" }, s.schemas.map(function (x) {
              return h("li", { text: (x.custom ? x.name : typeLabel(x.name)) + (x.enabled ? "" : " (off)") + (x.passthrough ? " (passthrough)" : "") });
            }))),
            h("dt", { text: "Provider objects" }), h("dd", { id: "provider-objects" }, (s.objects || []).length ? h("ul", { class: "tags" }, s.objects.map(function (o) {
              return h("li", { title: o.name, text: o.label + (o.custom ? " · custom" : "") });
            })) : "—")))),
          panel("Links for your end user", null, h("div", { class: "panel-body stack" },
            link("Connect page", s.links.connect, "link-connect"),
            link("Re-authentication link", s.links.reauthenticate, "link-reauth"),
            link("Change selections", s.links.edit, "link-edit")))),
        panel("Configuration", null, configurationTable(s)),
        panel("Transfers", null, transfersBody),
        panel("Activity", null, activityPanel(s.session_id)),
        panel("Errors", null, errorsBody));
    }, function (err) {
      clear(holder);
      add(holder, err.status === 404 ? empty("Session not found", "It may have expired or been deleted.") : empty("Could not load this session", err.message));
    });
    live(function () {
      return Promise.all([
        api("/api/transfers?limit=50&session_id=" + encodeURIComponent(id)),
        api("/api/errors?limit=50&session_id=" + encodeURIComponent(id))
      ]).then(function (answers) {
        clear(transfersBody); add(transfersBody, transferTable(answers[0].transfers || [], false));
        clear(errorsBody); add(errorsBody, errorTable(answers[1].errors || [], false, function () { views.refresh(); }));
        return (answers[0].transfers || []).some(function (t) { return !t.completed; });
      }, function (err) { if (err.status === 404) return false; throw err; });
    });
  };

  // A session's provider requests (GET /api/logs), newest first, filtered
  // by transfer and status, a page at a time.
  function activityPanel(sessionId) {
    var limit = 50, offset = 0;
    var transferFilter = h("select", { id: "activity-transfer", "aria-label": "Transfer" }, h("option", { value: "", text: "All requests" }));
    var statusFilter = h("select", { id: "activity-status", "aria-label": "Status" },
      [["", "Any status"], ["2xx", "2xx"], ["4xx", "4xx"], ["429", "429 (rate limited)"], ["5xx", "5xx"], ["error", "No answer"]].map(function (o) {
        return h("option", { value: o[0], text: o[1] });
      }));
    var body = h("div", { id: "activity" }, empty("Loading…"));
    var pager = h("div", { class: "pager" });
    var load = function () {
      var q = "/api/logs?session_id=" + encodeURIComponent(sessionId) + "&limit=" + limit + "&offset=" + offset;
      if (transferFilter.value) q += "&transfer_id=" + encodeURIComponent(transferFilter.value);
      if (statusFilter.value) q += "&status=" + encodeURIComponent(statusFilter.value);
      api(q).then(function (answer) {
        var rows = answer.requests || [], meta = answer.meta || {};
        clear(body); clear(pager);
        if (!rows.length) { add(body, empty("No provider requests", "Requests this session's transfers, discovery and proxy send to the provider appear here.")); return; }
        add(body, h("div", { class: "table-wrap" }, h("table", { class: "activity" },
          h("thead", null, h("tr", null, h("th", { text: "Time" }), h("th", { text: "Request" }), h("th", { text: "Status" }),
            h("th", { class: "num", text: "Duration" }), h("th", { class: "num hide-sm", text: "Size" }))),
          h("tbody", null, rows.map(function (r) {
            var path = r.url, query = "";
            try { var u = new URL(r.url); path = u.pathname; query = decodeURIComponent(u.search.slice(1)); } catch (e) { /* shown whole */ }
            var flags = r.source + (r.transfer_id ? " " + r.transfer_id.slice(0, 8) : "") + (r.retry ? " · attempt " + r.attempt : "") + (r.rate_limit_wait_ms >= 1 ? " · waited " + Math.round(r.rate_limit_wait_ms) + " ms for the rate limit" : "");
            var status = r.status === null ? h("span", { class: "badge", "data-status": "failed", title: r.error || "", text: "no answer" })
              : h("span", { class: "badge", "data-status": r.status >= 400 ? "failed" : "completed", text: String(r.status) + (r.rate_limited ? " rate limited" : "") });
            return h("tr", { "data-request-status": r.status === null ? "error" : String(r.status) },
              h("td", { class: "nowrap", title: r.time, text: fmtTime(r.time) }),
              h("td", { class: "request-cell" }, h("code", { class: "request", title: r.url, text: r.method + " " + path }),
                query ? h("span", { class: "query", title: query, text: "?" + query }) : null,
                h("span", { class: "sub", text: flags })),
              h("td", null, status),
              h("td", { class: "num", text: Math.round(r.duration_ms) + " ms" }),
              h("td", { class: "num hide-sm", text: r.response_bytes === null ? "—" : number.format(r.response_bytes) + " B" }));
          })))));
        add(pager, h("span", { class: "muted small", text: (offset + 1) + "–" + (offset + rows.length) + " of " + number.format(meta.count) }),
          h("button", { class: "btn secondary small", type: "button", disabled: offset === 0, onclick: function () { offset = Math.max(0, offset - limit); load(); } }, "Newer"),
          h("button", { class: "btn secondary small", type: "button", disabled: !meta.next, onclick: function () { offset += limit; load(); } }, "Older"));
      }, function (err) { clear(body); add(body, empty("Could not load the activity", err.message)); });
    };
    api("/api/transfers?limit=100&session_id=" + encodeURIComponent(sessionId)).then(function (answer) {
      (answer.transfers || []).forEach(function (t) {
        add(transferFilter, h("option", { value: t.transfer_id, text: (t.method === "IMPORT" ? "Pull " : "Push ") + typeLabel(t.endgrate_type) + " · " + t.transfer_id.slice(0, 8) }));
      });
    }, function () { /* the filter keeps "All requests" */ });
    transferFilter.addEventListener("change", function () { offset = 0; load(); });
    statusFilter.addEventListener("change", function () { offset = 0; load(); });
    load();
    return h("div", null, h("div", { class: "toolbar filters" }, transferFilter, statusFilter,
      h("button", { class: "btn secondary small", type: "button", onclick: load }, "Refresh")), body, pager);
  }

  function configurationTable(s) {
    var rows = s.schemas.filter(function (x) { return x.enabled; });
    if (!rows.length) return empty("Nothing enabled", "The end user has not chosen any data yet.");
    return h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, h("th", { text: "Schema" }), h("th", { text: "Served by" }), h("th", { text: "Field mapping" }), h("th", { text: "Provider fields (passthrough)" }))),
      h("tbody", null, rows.map(function (x) {
        var mapping = x.field_mapping ? Object.keys(x.field_mapping).map(function (k) {
          var b = (x.upsert_behaviour || {})[k];
          return k + " → " + x.field_mapping[k] + (b ? " (" + b.replace(/_/g, " ") + ")" : "");
        }).join(", ") : Object.keys(x.upsert_behaviour || {}).map(function (k) { return k + ": " + x.upsert_behaviour[k].replace(/_/g, " "); }).join(", ");
        return h("tr", null, h("td", null, h("span", { class: "primary-text", text: x.custom ? x.name : typeLabel(x.name) }), h("span", { class: "sub", text: x.object ? "provider object" : (x.endgrate_type || "custom") })),
          h("td", { text: x.integration || "—" }),
          h("td", { text: mapping || "Default" }),
          h("td", null, x.object_fields ? h("ul", { class: "tags" }, x.object_fields.map(function (f) {
            return h("li", { title: f.name + " (" + f.type + ")", text: f.title + (f.read_only ? " · read-only" : "") });
          })) : (x.passthrough_fields || []).length ? h("ul", { class: "tags" }, x.passthrough_fields.map(function (f) {
            return h("li", { title: f.name + " (" + f.type + ")", text: f.custom ? f.title + " · custom" : f.title });
          })) : "—"));
      }))));
  }

  function errorTable(errors, withSession, changed) {
    if (!errors.length) return empty("No errors", "Errors from transfers and sign-ins show up here.");
    return h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, h("th", { text: "When" }), h("th", { text: "Type" }), h("th", { text: "What happened" }), withSession ? h("th", { class: "hide-sm", text: "Session" }) : null, h("th", { text: "" }))),
      h("tbody", null, errors.map(function (e) {
        var button = h("button", {
          class: "btn secondary small", type: "button", "data-pk": e.pk, onclick: function () {
            button.disabled = true;
            api("/api/errors/resolve", { method: "POST", json: { pk: e.pk, resolved: !e.resolved } }).then(function () {
              toast(e.resolved ? "Error reopened." : "Error marked resolved.");
              changed();
            }, function (err) { button.disabled = false; failed(err); });
          }
        }, e.resolved ? "Reopen" : "Mark resolved");
        return h("tr", { class: e.resolved ? "resolved" : "" },
          h("td", { class: "nowrap", text: fmtTime(e.timestamp) }),
          h("td", null, h("span", { class: "badge" + (e.resolved ? " ok" : " bad"), text: e.resolved ? "Resolved" : e.error_type.replace(/_/g, " ") })),
          h("td", null, h("div", { class: "error-text", text: e.message }), h("div", { class: "muted small", text: e.error_resolve_text })),
          withSession ? h("td", { class: "hide-sm nowrap" }, h("a", { href: "#/sessions/" + encodeURIComponent(e.session_id), text: "Open session" })) : null,
          h("td", { class: "nowrap" }, button));
      }))));
  }

  views.transfers = function () {
    var body = h("div", null, empty("Loading…"));
    add(view, pageHead("Transfers", "Pulls and pushes of every session, newest first. Running transfers update live."), h("section", { class: "panel", id: "transfers-panel" }, body));
    live(function () {
      return api("/api/transfers?limit=50").then(function (answer) {
        clear(body);
        var list = answer.transfers || [];
        add(body, transferTable(list, true));
        return list.some(function (t) { return !t.completed; });
      });
    });
  };

  views.errors = function () {
    var body = h("div", null, empty("Loading…"));
    var showResolved = h("input", { type: "checkbox", id: "show-resolved" });
    var load = function () {
      var mine = generation;
      api("/api/errors?limit=100").then(function (answer) {
        if (mine !== generation) return;
        clear(body);
        var list = (answer.errors || []).filter(function (e) { return showResolved.checked || !e.resolved; });
        add(body, errorTable(list, true, load));
      }, failed);
    };
    showResolved.addEventListener("change", load);
    add(view, pageHead("Errors", "What went wrong, and what to do about it.",
      h("label", { class: "toolbar", for: "show-resolved" }, showResolved, "Show resolved")), h("section", { class: "panel" }, body));
    load();
  };

  // ---------- Webhook deliveries ----------
  function deliveryState(d) {
    return h("span", { class: "badge", "data-status": "delivery-" + d.state, text: ({ pending: "Pending", retrying: "Retrying", delivered: "Delivered", given_up: "Given up" })[d.state] || d.state });
  }
  function attemptList(d) {
    if (!d.attempts.length) return h("span", { class: "muted small", text: "Not attempted yet" });
    var older = d.attempt_count - d.attempts.length;
    return h("details", { class: "attempts" },
      h("summary", { text: d.attempt_count + (d.attempt_count === 1 ? " attempt" : " attempts") }),
      h("ol", null, d.attempts.map(function (a) {
        return h("li", { class: a.error ? "failed" : "ok" },
          h("span", { class: "nowrap", text: fmtTime(a.at) }), " · ",
          h("strong", { text: a.status ? String(a.status) : "no answer" }), " · ",
          h("span", { class: "muted", text: a.duration_ms + " ms" }),
          a.error ? h("div", { class: "error-text small", text: a.error }) : null);
      })),
      older > 0 ? h("p", { class: "muted small", text: older + " older attempts not kept" }) : null);
  }
  function deliveryTable(list, changed) {
    if (!list.length) return empty("No webhook deliveries", "Deliveries appear here as soon as a session or transfer sends a webhook.");
    return h("div", { class: "table-wrap" }, h("table", null,
      h("thead", null, h("tr", null, h("th", { text: "Delivery" }), h("th", { class: "hide-sm", text: "Session" }), h("th", { text: "State" }),
        h("th", { text: "Attempts" }), h("th", { class: "hide-sm", text: "Next attempt" }), h("th", { text: "" }))),
      h("tbody", null, list.map(function (d) {
        var finished = d.state === "delivered" || d.state === "given_up";
        var button = h("button", {
          class: "btn secondary small", type: "button", "data-redeliver": d.delivery_id, disabled: !finished,
          title: finished ? "Send the same body again, as a new delivery" : "Still being retried", onclick: function () {
            button.disabled = true;
            api("/api/webhooks/deliveries/" + encodeURIComponent(d.delivery_id) + "/redeliver", { method: "POST" }).then(function (answer) {
              toast("Queued again as delivery " + answer.delivery.delivery_id + ".");
              changed();
            }, function (err) { button.disabled = false; failed(err); });
          }
        }, "Redeliver");
        return h("tr", { "data-delivery": d.delivery_id },
          h("td", null, h("span", { class: "primary-text", text: d.event.charAt(0).toUpperCase() + d.event.slice(1) + " webhook" }),
            h("span", { class: "sub", title: d.endpoint, text: fmtTime(d.created) + " · #" + d.delivery_id + (d.redelivery_of ? " · again #" + d.redelivery_of : "") })),
          h("td", { class: "hide-sm nowrap" }, h("a", { href: "#/sessions/" + encodeURIComponent(d.session_id), text: d.session_id.slice(0, 8) })),
          h("td", null, deliveryState(d)),
          h("td", null, attemptList(d)),
          h("td", { class: "hide-sm nowrap", text: d.next_attempt ? relative(d.next_attempt) : "–" }),
          h("td", { class: "nowrap" }, button));
      }))));
  }

  views.webhooks = function () {
    var body = h("div", null, empty("Loading…"));
    var event = h("select", { id: "delivery-event", "aria-label": "Event" },
      [["", "All events"], ["configuration", "Configuration"], ["data", "Data"], ["completed", "Completed"], ["error", "Error"]].map(function (o) {
        return h("option", { value: o[0], text: o[1] });
      }));
    var offset = 0, limit = 25;
    var load = function () {
      var q = "/api/webhooks/deliveries?limit=" + limit + "&offset=" + offset + (event.value ? "&event=" + encodeURIComponent(event.value) : "");
      return api(q).then(function (answer) {
        var list = answer.deliveries || [], meta = answer.meta || {};
        clear(body);
        add(body, deliveryTable(list, function () { views.refresh(); }));
        if (list.length) {
          add(body, h("div", { class: "pager" },
            h("span", { text: (offset + 1) + "–" + (offset + list.length) + " of " + number.format(meta.count || list.length) }),
            h("span", null,
              h("button", { class: "btn secondary small", type: "button", disabled: offset === 0, onclick: function () { offset = Math.max(0, offset - limit); load().catch(failed); } }, "Previous"),
              h("button", { class: "btn secondary small", type: "button", disabled: !meta.next, onclick: function () { offset += limit; load().catch(failed); } }, "Next"))));
        }
        return list.some(function (d) { return d.state === "pending" || d.state === "retrying"; });
      });
    };
    event.addEventListener("change", function () { offset = 0; load().catch(failed); });
    add(view, pageHead("Webhooks", "Every webhook sent to your receivers, with each attempt. A delivered or given-up one can be sent again.",
      h("div", { class: "toolbar" }, event)), h("section", { class: "panel", id: "deliveries-panel" }, body));
    live(load);
  };

  // Admin-only views ask for the admin key first.
  function adminGate(container, head, then) {
    if (store.getItem(ADMIN)) { then(); return; }
    var input = h("input", { type: "password", id: "admin-key", autocomplete: "off", spellcheck: "false", "aria-describedby": "admin-key-error" });
    var error = h("p", { class: "field-error", id: "admin-key-error", role: "alert", hidden: true });
    var button = h("button", { class: "btn primary", type: "submit", id: "admin-signin" }, h("span", { class: "btn-label", text: "Unlock" }), h("span", { class: "spinner", "aria-hidden": "true" }));
    var form = h("form", {
      class: "stack", onsubmit: function (ev) {
        ev.preventDefault();
        error.hidden = true;
        store.setItem(ADMIN, input.value.trim());
        button.disabled = true;
        api("/api/admin/connectors", null, true).then(function () {
          views.refresh();
        }, function (err) {
          store.removeItem(ADMIN);
          button.disabled = false;
          error.textContent = err.status === 401 ? "That is not the admin key." : err.message;
          error.hidden = false;
          input.focus();
        });
      }
    }, h("div", { class: "field" }, h("label", { for: "admin-key", text: "Admin key" }), input, error), button);
    add(container, head, panel("Administrator access", null, h("div", { class: "panel-body" },
      h("p", { class: "muted", text: "This part needs the host's admin key (SWITCHYARD_ADMIN_KEY, printed on first start). It is kept in this tab only." }), form)));
    input.focus();
  }

  views.connectors = function () {
    var head = pageHead("Connectors", "Installed provider connectors. Uploading a new version hot-loads it without a restart.");
    adminGate(view, head, function () {
      var list = h("div", null, empty("Loading…"));
      var file = h("input", { type: "file", id: "connector-file", accept: ".wasm,application/wasm", class: "sr-only" });
      var chosen = h("span", { class: "muted small", id: "connector-file-name", text: "No file chosen" });
      var upload = h("button", { class: "btn primary", type: "submit", id: "upload-connector", disabled: true }, h("span", { class: "btn-label", text: "Upload and load" }), h("span", { class: "spinner", "aria-hidden": "true" }));
      var result = h("div", { id: "upload-result", role: "status", "aria-live": "polite" });
      file.addEventListener("change", function () {
        chosen.textContent = file.files.length ? file.files[0].name + " · " + number.format(Math.round(file.files[0].size / 1024)) + " KB" : "No file chosen";
        upload.disabled = !file.files.length;
      });
      var load = function () {
        return api("/api/admin/connectors", null, true).then(function (items) {
          clear(list);
          if (!items.length) { add(list, empty("No connectors installed", "Upload a connector component (.wasm) to add a provider.")); return; }
          items.sort(function (a, b) { return a.id < b.id ? -1 : 1; });
          add(list, h("div", { class: "table-wrap" }, h("table", null,
            h("thead", null, h("tr", null, h("th", { text: "Connector" }), h("th", { text: "Version" }), h("th", { class: "hide-sm", text: "SHA-256" }), h("th", { class: "hide-sm", text: "Loaded" }), h("th", { text: "" }))),
            h("tbody", null, items.map(function (c) {
              return h("tr", { "data-connector": c.id },
                h("td", null, providerCell(c.id, providerNames[c.id] || c.display_name)),
                h("td", null, h("span", { class: "badge plain mono", text: c.version, "data-version": c.version })),
                h("td", { class: "hide-sm" }, h("span", { class: "mono small", title: c.hash, text: c.hash.slice(0, 16) + "…" })),
                h("td", { class: "hide-sm nowrap", text: relative(c.loaded_at) }),
                h("td", { class: "nowrap" }, h("button", {
                  class: "btn danger small", type: "button", onclick: function () {
                    if (!window.confirm("Unload " + (c.display_name || c.id) + "? Sessions using it stop working until it is installed again.")) return;
                    api("/api/admin/connectors/" + encodeURIComponent(c.id), { method: "DELETE" }, true).then(function () { toast("Unloaded " + c.id + "."); load(); }, failed);
                  }
                }, "Unload")));
            })))));
        });
      };
      var form = h("form", {
        class: "stack", id: "upload-form", onsubmit: function (ev) {
          ev.preventDefault();
          if (!file.files.length) return;
          upload.classList.add("busy"); upload.disabled = true;
          clear(result);
          api("/api/admin/connectors", { method: "POST", body: file.files[0], headers: { "Content-Type": "application/wasm" } }, true).then(function (answer) {
            var text = "Loaded " + (answer.display_name || answer.id) + " " + answer.version +
              (answer.replaced_version ? ", replacing " + answer.replaced_version : "") + ". It serves new calls now.";
            add(result, h("div", { class: "callout ok", text: text }));
            return load();
          }).catch(function (err) {
            add(result, h("div", { class: "notice error", role: "alert", text: err.message }));
          }).then(function () { upload.classList.remove("busy"); upload.disabled = !file.files.length; });
        }
      },
        h("label", { class: "dropzone", for: "connector-file" }, h("strong", { text: "Choose a connector component" }),
          h("span", { class: "muted small", text: "A .wasm file built with cargo xtask build-connectors. It is checked completely before it replaces anything." }),
          h("span", { class: "btn secondary small", text: "Browse…" }), chosen),
        file, upload, result);
      add(view, head,
        panel("Installed", null, list), panel("Upload a version", null, h("div", { class: "panel-body" }, form)));
      load().catch(failed);
    });
  };

  views.keys = function () {
    var secretBox = h("div", null, empty("Loading…"));
    add(view, pageHead("API keys & webhooks", "Keys authenticate your backend; the signing secret proves a webhook came from this host."));
    add(view, panel("Webhook signing secret", null, h("div", { class: "panel-body" }, secretBox)));
    api("/api/webhook-secret").then(function (answer) {
      clear(secretBox);
      var shown = false;
      var value = h("div", { class: "secret", id: "webhook-secret", text: "•".repeat(32) });
      var reveal = h("button", {
        class: "btn secondary small", type: "button", id: "reveal-secret", onclick: function () {
          shown = !shown;
          value.textContent = shown ? answer.webhook_secret : "•".repeat(32);
          reveal.textContent = shown ? "Hide" : "Reveal";
        }
      }, "Reveal");
      add(secretBox, h("p", { class: "muted small" }, "Every webhook carries ", h("code", { text: (answer.signature_header || "x-switchyard-signature") + ": t=<unix seconds>,v1=<HMAC-SHA256 of \"t.delivery-id.body\">" }), "; see the API reference to verify it."),
        h("div", { class: "copy-row" }, value, reveal, copyButton(function () { return answer.webhook_secret; })));
    }, failed);

    var keysHolder = h("div");
    add(view, keysHolder);
    var renderKeys = function () {
      clear(keysHolder);
      adminGate(keysHolder, null, function () {
        var list = h("div", null, empty("Loading…"));
        var account = h("input", { type: "text", id: "new-key-account", placeholder: "e.g. acme", value: store.getItem(ACCOUNT) || "" });
        var created = h("div", { id: "new-key", role: "status", "aria-live": "polite" });
        var load = function () {
          api("/api/admin/keys", null, true).then(function (answer) {
            clear(list);
            var keys = answer.keys || [];
            if (!keys.length) { add(list, empty("No keys", "Create one above.")); return; }
            add(list, h("div", { class: "table-wrap" }, h("table", null,
              h("thead", null, h("tr", null, h("th", { text: "Key" }), h("th", { text: "Account" }), h("th", { class: "hide-sm", text: "Created" }), h("th", { text: "Status" }), h("th", { text: "" }))),
              h("tbody", null, keys.map(function (k) {
                return h("tr", { "data-key": k.key_id },
                  h("td", null, h("span", { class: "mono", text: k.hint || k.key_id }), h("span", { class: "sub", text: k.key_id })),
                  h("td", { text: k.account }),
                  h("td", { class: "hide-sm nowrap", text: fmtTime(k.created) }),
                  h("td", null, h("span", { class: "badge" + (k.revoked ? " bad" : " ok"), text: k.revoked ? "Revoked" : "Active" })),
                  h("td", { class: "nowrap" }, k.revoked ? null : h("button", {
                    class: "btn danger small", type: "button", onclick: function () {
                      if (!window.confirm("Revoke this key? Calls made with it fail from now on.")) return;
                      api("/api/admin/keys/" + encodeURIComponent(k.key_id), { method: "DELETE" }, true).then(function () { toast("Key revoked."); load(); }, failed);
                    }
                  }, "Revoke")));
              })))));
          }, failed);
        };
        var form = h("form", {
          class: "inline-form", id: "create-key-form", onsubmit: function (ev) {
            ev.preventDefault();
            clear(created);
            api("/api/admin/keys", { method: "POST", json: { account: account.value.trim() } }, true).then(function (answer) {
              add(created, h("div", { class: "callout ok stack" },
                h("strong", { text: "New key for " + answer.account + ". Copy it now: it is not shown again." }),
                h("div", { class: "copy-row" }, h("input", { type: "text", readonly: true, value: answer.api_key, "aria-label": "New API key" }), copyButton(function () { return answer.api_key; }))));
              load();
            }, failed);
          }
        }, h("div", { class: "field" }, h("label", { for: "new-key-account", text: "Account" }), account), h("button", { class: "btn primary", type: "submit" }, "Create key"));
        add(keysHolder, panel("API keys", null, h("div", null, h("div", { class: "panel-body stack" }, form, created), list)));
        load();
      });
    };
    renderKeys();
  };

  // ---------- Navigation and sign-in ----------
  views.refresh = function () { route(); };

  function route() {
    generation++;
    clearTimeout(timer);
    clear(view);
    if (!store.getItem(KEY)) { showSignIn(); return; }
    document.getElementById("app").classList.remove("signed-out");
    document.getElementById("signin").hidden = true;
    document.getElementById("nav").hidden = false;
    document.getElementById("account").hidden = false;
    document.getElementById("account-name").textContent = store.getItem(ACCOUNT) || "";
    var parts = (location.hash || "#/sessions").replace(/^#\//, "").split("/");
    var name = parts[0] || "sessions";
    Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
      if (a.getAttribute("data-view") === name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    if (name === "sessions" && parts[1]) views.session(decodeURIComponent(parts.slice(1).join("/")));
    else if (views[name] && name !== "refresh" && name !== "session") views[name]();
    else views.sessions();
    var titles = { sessions: "Sessions", transfers: "Transfers", errors: "Errors", webhooks: "Webhooks", connectors: "Connectors", keys: "API keys" };
    document.title = (titles[name] || "Dashboard") + " · Switchyard";
  }

  function showSignIn(message) {
    document.getElementById("app").classList.add("signed-out");
    document.getElementById("signin").hidden = false;
    document.getElementById("nav").hidden = true;
    document.getElementById("account").hidden = true;
    var err = document.getElementById("api-key-error");
    if (message) { err.textContent = message; err.hidden = false; }
    document.getElementById("api-key").focus();
  }

  function signOut(message) {
    store.removeItem(KEY); store.removeItem(ACCOUNT); store.removeItem(ADMIN);
    generation++;
    clearTimeout(timer);
    clear(view);
    showSignIn(message);
  }

  document.getElementById("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("api-key");
    var err = document.getElementById("api-key-error");
    var button = document.getElementById("signin-button");
    var key = input.value.trim();
    err.hidden = true;
    if (!key) { err.textContent = "Enter an API key."; err.hidden = false; input.focus(); return; }
    button.classList.add("busy"); button.disabled = true;
    fetch("/api/account", { headers: { "Authorization": "Bearer " + key } }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (answer) {
      button.classList.remove("busy"); button.disabled = false;
      if (!answer.ok) {
        err.textContent = "This key was not accepted. Check it and try again.";
        err.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      input.value = "";
      input.removeAttribute("aria-invalid");
      store.setItem(KEY, key);
      store.setItem(ACCOUNT, answer.body.account);
      route();
      document.getElementById("main").focus();
    }).catch(function () {
      button.classList.remove("busy"); button.disabled = false;
      err.textContent = "The server could not be reached.";
      err.hidden = false;
    });
  });
  document.getElementById("sign-out").addEventListener("click", function () { signOut(); });
  window.addEventListener("hashchange", route);
  loadProviderNames().then(route, route);
})();
