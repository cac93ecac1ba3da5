// The connect flow's small enhancements. Every page works without this
// script (plain links and form posts); with it, the API-key form is checked
// in place and shows the provider's answer next to the field, the provider
// list can be filtered, and buttons show that something is happening.
(function () {
  "use strict";

  function busy(button, on) {
    if (!button) return;
    button.classList.toggle("busy", on);
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  // Provider filter.
  var filter = document.querySelector("[data-filter]");
  if (filter) {
    var list = document.querySelector(filter.getAttribute("data-filter"));
    var empty = document.querySelector(".empty-filter");
    filter.addEventListener("input", function () {
      var needle = filter.value.trim().toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(list.children, function (li) {
        var match = !needle || (li.getAttribute("data-name") || "").indexOf(needle) !== -1;
        li.hidden = !match;
        if (match) shown++;
      });
      if (empty) empty.hidden = shown !== 0;
    });
  }

  // A chosen provider: show it is on its way (the sign-in page may take a moment).
  Array.prototype.forEach.call(document.querySelectorAll("a.provider"), function (a) {
    a.addEventListener("click", function () { a.classList.add("busy"); });
  });

  // API-key form: checked with the provider without leaving the page.
  var keyForm = document.getElementById("key-form");
  if (keyForm && window.fetch) {
    var status = keyForm.querySelector(".status-line");
    var button = keyForm.querySelector("button[type=submit]");
    var provider = keyForm.getAttribute("data-provider") || "the provider";

    var clearErrors = function () {
      Array.prototype.forEach.call(keyForm.querySelectorAll(".field"), function (f) {
        f.classList.remove("invalid");
        var input = f.querySelector("input");
        if (input) input.removeAttribute("aria-invalid");
        var err = f.querySelector(".field-error");
        if (err) { err.hidden = true; err.textContent = ""; }
      });
    };
    var showError = function (field, message) {
      var input = keyForm.querySelector("[name=\"" + field.replace(/"/g, "") + "\"]") ||
        keyForm.querySelector("input[type=password]");
      var wrap = input ? input.closest(".field") : null;
      var err = wrap ? wrap.querySelector(".field-error") : null;
      if (wrap) wrap.classList.add("invalid");
      if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); input.select(); }
      if (err) { err.textContent = message; err.hidden = false; }
    };

    keyForm.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors();
      var missing = Array.prototype.find.call(keyForm.querySelectorAll("input[required]"), function (i) {
        return !i.value.trim();
      });
      if (missing) {
        var label = keyForm.querySelector("label[for=\"" + missing.id + "\"]");
        showError(missing.name, "Enter your " + (label ? label.textContent : "value") + ".");
        return;
      }
      busy(button, true);
      status.textContent = "Checking with " + provider + "…";
      fetch(keyForm.action, {
        method: "POST",
        headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(new FormData(keyForm)).toString(),
        credentials: "same-origin"
      }).then(function (r) {
        var type = r.headers.get("content-type") || "";
        if (type.indexOf("application/json") === -1) {
          // A whole page (an expired session, say): show it as it is.
          return r.text().then(function (html) {
            document.open(); document.write(html); document.close();
            return null;
          });
        }
        return r.json();
      }).then(function (answer) {
        if (!answer) return;
        if (answer.ok) {
          status.textContent = "Connected. Taking you back…";
          window.location.assign(answer.redirect);
          return;
        }
        busy(button, false);
        status.textContent = "";
        showError(answer.field || "", answer.message || "That didn't work. Check the value and try again.");
      }).catch(function () {
        busy(button, false);
        status.textContent = "";
        showError("", "We couldn't reach the server. Check your connection and try again.");
      });
    });
  }

  // Data step: a switched-off data type needs no object choice.
  var selectForm = document.getElementById("select-form");
  if (selectForm) {
    Array.prototype.forEach.call(selectForm.querySelectorAll("input[type=checkbox][name^=\"enable:\"]"), function (box) {
      var choice = box.closest(".choice");
      var select = choice ? choice.querySelector("select") : null;
      var sync = function () { if (select) select.disabled = !box.checked; };
      box.addEventListener("change", sync);
      sync();
    });
  }

  // Every other form: one submission, with a visible spinner.
  Array.prototype.forEach.call(document.querySelectorAll("form:not(#key-form)"), function (form) {
    form.addEventListener("submit", function () {
      busy(form.querySelector("button[type=submit]"), true);
    });
  });
})();
