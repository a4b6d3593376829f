// Enhances the app's pages; every form also works without it.
// - The session: renewed before it expires while the page stays open (POST /api/session), so a
//   sidebar left open all day keeps working; every form's hidden session follows.
// - My status: the four statuses are one radio group (arrow keys move and choose); a choice is
//   applied through the JSON API, marked at once and rolled back with a message if it fails.
//   A status for a while, "End now" and the schedule's forms post as they do without script.
// - Team: the board refreshes every 30 s while it is visible (GET /api/team).
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="b24-session"]');
  if (window.BX24 && typeof window.BX24.init === "function") {
    window.BX24.init(function () {
      if (typeof window.BX24.fitWindow === "function") {
        window.BX24.fitWindow();
      }
    });
  }
  if (!meta || !window.fetch) {
    return;
  }
  var session = meta.getAttribute("content");

  function api(method, path, body) {
    var headers = { "Authorization": "Bearer " + session };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    return fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, status: response.status, body: data }; });
    });
  }

  function renewIn(seconds) {
    window.setTimeout(function () {
      api("POST", "/api/session").then(function (answer) {
        if (!answer.ok) {
          // An expired or refused session cannot be renewed; a busy one can, a minute later.
          if (answer.status !== 401 && answer.status !== 404) {
            renewIn(60);
          }
          return;
        }
        session = answer.body.session;
        meta.setAttribute("content", session);
        Array.prototype.forEach.call(document.querySelectorAll('input[name="session"]'), function (input) {
          input.value = session;
        });
        renewIn(answer.body.expires_in / 2);
      }, function () { renewIn(60); });
    }, seconds * 1000);
  }
  renewIn(Number(meta.getAttribute("data-renew-in")) || 3600);

  var form = document.getElementById("b24s-form");
  var live = document.getElementById("b24s-message");
  if (form && live) {
    statusPage(form, live);
  }
  var team = document.getElementById("b24s-team");
  if (team && document.getElementById("b24s-team-list")) {
    teamBoard(team);
  }

  function statusPage(form, live) {
    var buttons = Array.prototype.slice.call(form.querySelectorAll('button[name="status"]'));
    var duration = document.getElementById("b24s-for");
    var busy = false;
    var pending = null;

    function current() {
      var on = buttons.filter(function (b) { return b.getAttribute("aria-checked") === "true"; })[0];
      return on ? on.value : null;
    }
    function mark(value) {
      buttons.forEach(function (b) {
        var on = b.value === value;
        b.setAttribute("aria-checked", on ? "true" : "false");
        b.setAttribute("tabindex", on ? "0" : "-1");
        b.classList.toggle("is-current", on);
      });
      if (!buttons.some(function (b) { return b.value === value; }) && buttons[0]) {
        buttons[0].setAttribute("tabindex", "0");
      }
    }
    function nameOf(value) {
      var b = buttons.filter(function (x) { return x.value === value; })[0];
      return b ? b.getAttribute("data-name") : value;
    }
    function say(text, isError) {
      live.textContent = text;
      live.classList.toggle("is-error", !!isError);
    }
    function apply(value, previous) {
      if (busy) {
        return;
      }
      busy = true;
      say(form.getAttribute("data-saving"), false);
      api("PUT", "/api/status", { status: value })
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
        }, function () {
          mark(previous);
          say(form.getAttribute("data-offline"), true);
        })
        .then(function () { busy = false; });
    }
    mark(current());

    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      // A status for a while posts the form: the server works out when it ends.
      if (!button || button.name !== "status" || (duration && duration.value !== "")) {
        return;
      }
      event.preventDefault();
      var previous = current();
      mark(button.value);
      apply(button.value, previous);
    });

    // The radio group's keys: arrows move to the next or previous status and choose it (after a
    // short pause, so passing over a status does not set it); Home and End go to the ends.
    form.addEventListener("keydown", function (event) {
      var at = buttons.indexOf(document.activeElement);
      if (at < 0) {
        return;
      }
      var keys = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
      var next;
      if (keys[event.key]) {
        next = (at + keys[event.key] + buttons.length) % buttons.length;
      } else if (event.key === "Home") {
        next = 0;
      } else if (event.key === "End") {
        next = buttons.length - 1;
      } else {
        return;
      }
      event.preventDefault();
      var previous = pending ? pending.previous : current();
      var value = buttons[next].value;
      mark(value);
      buttons[next].focus();
      if (duration && duration.value !== "") {
        return;
      }
      if (pending) {
        window.clearTimeout(pending.timer);
      }
      pending = {
        previous: previous,
        timer: window.setTimeout(function () {
          pending = null;
          if (value !== previous) {
            apply(value, previous);
          }
        }, 400)
      };
    });
  }

  function teamBoard(team) {
    var list = document.getElementById("b24s-team-list");
    var empty = document.getElementById("b24s-team-empty");
    var department = document.getElementById("b24s-team-department");
    var search = document.getElementById("b24s-team-q");
    var page = team.getAttribute("data-page") || "1";

    function row(member) {
      var item = document.createElement("li");
      item.className = "b24s-member";
      item.setAttribute("data-id", member.id);
      var dot = document.createElement("span");
      dot.className = "b24s-dot b24s-dot--" + member.status;
      dot.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.className = "b24s-member-text";
      var name = document.createElement("span");
      name.className = "b24s-member-name";
      name.textContent = member.name;
      var position = document.createElement("span");
      position.className = "b24s-member-position";
      position.textContent = member.position;
      text.appendChild(name);
      text.appendChild(position);
      var status = document.createElement("span");
      status.className = "b24s-member-status";
      status.textContent = team.getAttribute("data-status-" + member.status) || member.status;
      if (member.until) {
        var until = document.createElement("span");
        until.className = "b24s-muted";
        var time = new Date(member.until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
        until.textContent = " " + team.getAttribute("data-until").replace("{time}", time);
        status.appendChild(until);
      }
      item.appendChild(dot);
      item.appendChild(text);
      item.appendChild(status);
      if (member.absent) {
        var absent = document.createElement("span");
        absent.className = "b24s-absent";
        absent.textContent = team.getAttribute("data-absent");
        item.appendChild(absent);
      }
      return item;
    }

    function refresh() {
      if (document.visibilityState !== "visible") {
        return;
      }
      var query = "department=" + encodeURIComponent(department ? department.value : "") +
        "&q=" + encodeURIComponent(search ? search.value : "") + "&page=" + encodeURIComponent(page);
      api("GET", "/api/team?" + query).then(function (answer) {
        if (!answer.ok) {
          return;
        }
        var mine = list.querySelector(".b24s-member-name .b24s-muted");
        var me = mine ? mine.closest(".b24s-member").getAttribute("data-id") : null;
        list.textContent = "";
        answer.body.members.forEach(function (member) {
          var item = row(member);
          if (String(member.id) === me) {
            item.querySelector(".b24s-member-name").appendChild(mine);
          }
          list.appendChild(item);
        });
        empty.hidden = answer.body.members.length > 0;
      }, function () {});
    }
    window.setInterval(refresh, 30000);
    document.addEventListener("visibilitychange", refresh);
  }
})();
