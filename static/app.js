// Enhances the status form: a click applies the status through the JSON API, marks it at
// once, and rolls back with a message if the call fails. A status for a while, the timer's
// "End now" and the schedule's forms post as they do without this script.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="b24-session"]');
  var form = document.getElementById("b24s-form");
  var live = document.getElementById("b24s-message");
  if (window.BX24 && typeof window.BX24.init === "function") {
    window.BX24.init(function () {
      if (typeof window.BX24.fitWindow === "function") {
        window.BX24.fitWindow();
      }
    });
  }
  if (!meta || !form || !live || !window.fetch) {
    return;
  }
  var session = meta.getAttribute("content");
  var buttons = Array.prototype.slice.call(form.querySelectorAll('button[name="status"]'));
  var busy = false;

  function current() {
    var on = buttons.filter(function (b) { return b.getAttribute("aria-pressed") === "true"; })[0];
    return on ? on.value : null;
  }
  function mark(value) {
    buttons.forEach(function (b) {
      var on = b.value === value;
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.classList.toggle("is-current", on);
    });
  }
  function nameOf(value) {
    var b = buttons.filter(function (x) { return x.value === value; })[0];
    return b ? b.getAttribute("data-name") : value;
  }
  function say(text, isError) {
    live.textContent = text;
    live.classList.toggle("is-error", !!isError);
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    var duration = document.getElementById("b24s-for");
    // A status for a while posts the form: the server works out when it ends.
    if (!button || button.name !== "status" || (duration && duration.value !== "")) {
      return;
    }
    event.preventDefault();
    if (busy) {
      return;
    }
    busy = true;
    var previous = current();
    mark(button.value);
    say(form.getAttribute("data-saving"), false);
    fetch("/api/status", {
      method: "PUT",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + session },
      body: JSON.stringify({ status: button.value })
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (answer.ok) {
          var running = document.getElementById("b24s-running");
          if (running) {
            running.parentNode.removeChild(running);
          }
          mark(answer.body.status);
          say(form.getAttribute("data-saved") + " " + nameOf(answer.body.status), false);
        } else {
          mark(previous);
          say(answer.body && answer.body.message ? answer.body.message : form.getAttribute("data-offline"), true);
        }
      })
      .catch(function () {
        mark(previous);
        say(form.getAttribute("data-offline"), true);
      })
      .then(function () {
        busy = false;
      });
  });
})();
