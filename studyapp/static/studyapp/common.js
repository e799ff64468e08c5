// Shared by every participant page: a per-tab store that survives reloads, answer
// submission that survives a lost connection, and the timed return to the recruiter.
(function () {
  "use strict";
  const H = (window.HearXAI = window.HearXAI || {});

  // --- per-tab state (sessionStorage survives a reload, not a new tab) -------------
  H.store = function (key) {
    let state = null;
    try { state = JSON.parse(window.sessionStorage.getItem(key) || "null"); } catch (e) { state = null; }
    if (!state || typeof state !== "object") state = {};
    // Client times count from the first time this page was opened in this tab, on the
    // performance.now() clock, so they stay comparable across a reload.
    if (typeof state.t0 !== "number") state.t0 = performance.timeOrigin;
    return {
      state: state,
      now: function () { return Math.max(0, performance.timeOrigin + performance.now() - state.t0); },
      save: function () { try { window.sessionStorage.setItem(key, JSON.stringify(state)); } catch (e) { /* private mode: keep in memory */ } },
      clear: function () { try { window.sessionStorage.removeItem(key); } catch (e) { /* nothing stored */ } },
    };
  };

  // --- submitting an answer -------------------------------------------------------
  // The answer goes by fetch() with the page's idempotency key; on a network failure it
  // is sent again (same key) until the server confirms, so it is stored exactly once.
  const RETRY_S = [1, 2, 4, 8, 15];

  H.submitForm = function (form, options) {
    const status = form.querySelector(".send-status");
    let sending = false;
    let attempt = 0;

    function say(text, isError) {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("error", !!isError);
    }

    function go(url) {
      if (options.onStored) options.onStored();
      window.location.assign(url);
    }

    function send(body) {
      fetch(form.action || window.location.href, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-Requested-With": "fetch", "Accept": "application/json" },
      }).then(function (response) {
        const type = response.headers.get("Content-Type") || "";
        if (type.indexOf("application/json") === -1) {
          if (response.status >= 500) throw new Error("server " + response.status);
          if (response.redirected) { go(response.url); return null; }
          sending = false;
          say(response.status === 403
            ? "Your answer could not be accepted because the page expired. Please reload the page."
            : "Your answer could not be stored (error " + response.status + "). Please reload the page.", true);
          return null;
        }
        return response.json().then(function (data) { handle(response.status, data); });
      }).catch(function () {
        // Lost connection or server trouble: keep the answer and try again.
        const wait = RETRY_S[Math.min(attempt, RETRY_S.length - 1)];
        attempt += 1;
        say("Connection problem. Your answer is kept and will be sent again in " + wait + " s.", true);
        window.setTimeout(function () { send(body); }, wait * 1000);
      });
    }

    function handle(code, data) {
      if (data.ok && data.trial && options.onNextTrial) {
        // Stored, and the reply carries the next trial: the page draws it in place.
        if (options.onStored) options.onStored();
        options.onNextTrial(data);
        return;
      }
      if (data.ok && data.next) { say("Saved."); go(data.next); return; }
      if (data.next) { go(data.next); return; }  // out-of-date page: the server says where to go
      sending = false;
      say(data.error || "Your answer could not be stored.", true);
      if (options.onRejected) options.onRejected(data.error || "");
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // A second click while the first is on its way sends nothing more.
      if (sending) return;
      if (options.beforeSend && options.beforeSend(event) === false) return;
      sending = true;
      attempt = 0;
      say("Saving your answer\u2026");
      // URL-encoded, not multipart: the form has no files, and the server parses it faster.
      const body = new URLSearchParams(new FormData(form));
      if (event.submitter && event.submitter.name) body.append(event.submitter.name, event.submitter.value);
      send(body);
    });
  };

  // --- timed return to the recruitment site ------------------------------------------
  function countdown() {
    const box = document.getElementById("redirect");
    if (!box || !box.dataset.redirectUrl) return;
    let left = parseInt(box.dataset.redirectSeconds || "5", 10);
    const text = document.getElementById("redirect-countdown");
    function tick() {
      if (left <= 0) { window.location.assign(box.dataset.redirectUrl); return; }
      if (text) text.textContent = "Taking you back to the recruitment site in " + left + " s\u2026";
      left -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", countdown);
  else countdown();
})();
