// Trial runner: one page per block of trials. The first trial comes with the page; the
// reply to each stored answer carries the next trial's HTML, which replaces the current
// one in place (the server decides what it is: this script never picks a trial). The
// next trial's media are preloaded while the current one runs, so it is ready to play
// when it is swapped in. Any reply without a trial (practice feedback, the end, an
// out-of-date page) is followed by a full page load of the URL the server names.
//
// Per trial: audio rules, event log, response time, synchronised playhead, focus and
// visibility. Answering opens once every required clip has been heard to the end (if
// the study says so); the response time counts from that moment. Every play, pause,
// end and replay is logged with its client time; the log goes to the server with the
// answer, which checks it against the same rules. State is kept per tab, so a reload
// keeps what was already heard and how many replays are left.
(function () {
  "use strict";
  const H = window.HearXAI;
  const runner = document.getElementById("runner");
  if (!runner || !H) return;
  // url -> an <audio> or <img> loading the next trial's media: kept so the browser
  // finishes fetching them into its cache, from where the swapped-in trial loads them.
  const preloaded = {};

  function preload(root) {
    (root.dataset.preload || "").split(" ").filter(Boolean).forEach(function (url) {
      if (preloaded[url]) return;
      if (/\.png$/.test(url)) { const img = new Image(); img.src = url; preloaded[url] = img; return; }
      const audio = new Audio();
      audio.preload = "auto";
      audio.src = url;
      audio.load();
      preloaded[url] = audio;
    });
  }

  function swapIn(data) {
    runner.querySelectorAll("audio").forEach(function (a) { a.pause(); });
    runner.innerHTML = data.trial.html;
    Object.keys(preloaded).forEach(function (url) { delete preloaded[url]; });
    const root = document.getElementById("trial");
    const bar = document.getElementById("progress"), text = document.getElementById("progress-text");
    if (bar) { bar.max = data.trial.total; bar.value = data.trial.answered; bar.textContent = data.trial.answered + " of " + data.trial.total; }
    if (text) text.textContent = data.trial.answered + " of " + data.trial.total + " answered";
    // A reload, or the back and forward buttons, then load the trial the participant is at.
    window.history.replaceState(null, "", data.next);
    window.scrollTo(0, 0);
    start(root, true);
  }

  // Focus and visibility while a trial is shown (as jsPsych's interaction data): how
  // often the window lost focus, how often the page was hidden (another tab, a minimised
  // window, a locked phone) and for how long. Kept with the trial's state, so a reload
  // keeps them (the reload itself counts as one hiding).
  function watchInteraction(store) {
    const seen = (store.state.interaction = store.state.interaction || { blurs: 0, hidden: 0, hidden_ms: 0 });
    let hiddenSince = document.visibilityState === "hidden" ? store.now() : null;
    function onBlur() { seen.blurs += 1; store.save(); }
    function onVisibility() {
      if (document.visibilityState === "hidden") { seen.hidden += 1; hiddenSince = store.now(); }
      else if (hiddenSince != null) { seen.hidden_ms += store.now() - hiddenSince; hiddenSince = null; }
      store.save();
    }
    window.addEventListener("blur", onBlur);
    document.addEventListener("visibilitychange", onVisibility);
    return {
      values: function () {
        const open = hiddenSince != null ? store.now() - hiddenSince : 0;
        return { focus_losses: seen.blurs, hidden_count: seen.hidden, hidden_ms: Math.round(seen.hidden_ms + open) };
      },
      stop: function () {
        window.removeEventListener("blur", onBlur);
        document.removeEventListener("visibilitychange", onVisibility);
      },
    };
  }

  function start(root, swapped) {
  const mustFinish = root.dataset.mustFinish === "1";
  const maxReplays = parseInt(root.dataset.maxReplays || "0", 10);
  const allowSeeking = root.dataset.allowSeeking === "1";
  const revising = root.dataset.revising === "1";
  const form = document.getElementById("answer-form");
  const fieldset = document.getElementById("answer-fieldset");
  const hint = document.getElementById("answer-hint");
  const store = H.store(root.dataset.storageKey + (revising ? ":revise" : ""));
  const state = store.state;
  state.events = state.events || [];
  state.starts = state.starts || {};
  state.finished = state.finished || {};
  if (revising) { state.events = []; state.starts = {}; state.finished = {}; }
  const interaction = watchInteraction(store);
  const audios = Array.prototype.slice.call(root.querySelectorAll("audio[data-media]"));
  const required = audios.map(function (a) { return a.dataset.media; });
  const players = {};

  function log(media, name, audio) {
    state.events.push({ media: media, event: name, client_ms: Math.round(store.now() * 10) / 10,
                        media_time_s: audio ? Math.round(audio.currentTime * 1000) / 1000 : null });
    store.save();
  }

  function openAnswering() {
    if (!fieldset.disabled && state.answerableAt != null) return;
    if (state.answerableAt == null) { state.answerableAt = store.now(); store.save(); }
    fieldset.disabled = false;
    if (hint) hint.textContent = "";
  }

  function allHeard() {
    return required.every(function (m) { return state.finished[m]; });
  }

  function nextFocus() {
    // Keyboard users continue where the page needs them next.
    const pending = required.filter(function (m) { return !state.finished[m]; });
    if (pending.length) { players[pending[0]].button.focus(); return; }
    const first = fieldset.querySelector("input[name=answer]:checked, input[name=answer]");
    if (first) first.focus();
  }

  // --- one player ------------------------------------------------------------------
  function Player(audio) {
    const media = audio.dataset.media;
    const button = document.getElementById("play-" + media);
    const status = document.getElementById("status-" + media);
    const noun = media === "original" ? "recording" : "explanation";
    const self = { media: media, audio: audio, button: button };
    let fromStart = false;   // the next "play" event starts from the beginning
    let ourSeek = false;     // seeks the page itself makes are not logged as blocked
    let blocked = false;     // a start beyond the replay limit, undone at once
    let lastTime = 0;
    let ended = !!state.finished[media];
    players[media] = self;

    function startsLeft() { return 1 + maxReplays - (state.starts[media] || 0); }

    function render() {
      const started = (state.starts[media] || 0) > 0;
      if (!audio.paused && !audio.ended) {
        button.innerHTML = "&#10074;&#10074; Pause";
        status.textContent = "Playing";
        button.disabled = false;
        return;
      }
      if (started && !ended && audio.currentTime > 0) {
        button.innerHTML = "&#9654; Resume";
        status.textContent = "Paused";
        button.disabled = false;
        return;
      }
      const left = startsLeft();
      if (!started) { button.innerHTML = "&#9654; Play " + noun; status.textContent = "Not played yet"; }
      else {
        button.innerHTML = "&#9654; Play " + noun + " again";
        status.textContent = (ended ? "Heard to the end. " : "") +
          (left > 0 ? left + " replay" + (left === 1 ? "" : "s") + " left" : "No replays left");
      }
      button.disabled = left <= 0;
    }

    self.stop = function () { if (!audio.paused) audio.pause(); };

    self.toggle = function () {
      if (!audio.paused && !audio.ended) { audio.pause(); return; }
      Object.keys(players).forEach(function (m) { if (m !== media) players[m].stop(); });
      const resuming = (state.starts[media] || 0) > 0 && !ended && audio.currentTime > 0;
      if (!resuming) {
        if (startsLeft() <= 0) return;
        fromStart = true;
        if (audio.currentTime !== 0) { ourSeek = true; audio.currentTime = 0; }
      }
      audio.play().catch(function () {
        fromStart = false;
        status.textContent = "The sound did not start. Please press the button again.";
      });
    };

    button.addEventListener("click", self.toggle);

    audio.addEventListener("play", function () {
      const starting = fromStart || (state.starts[media] || 0) === 0 || ended;
      fromStart = false;
      if (starting) {
        if (startsLeft() <= 0) { blocked = true; audio.pause(); return; }
        log(media, ended || (state.starts[media] || 0) > 0 ? "replay" : "play", audio);
        state.starts[media] = (state.starts[media] || 0) + 1;
        ended = false;
        store.save();
      } else {
        log(media, "play", audio);  // resumed after a pause
      }
      render();
      playhead.follow(audio);
    });

    audio.addEventListener("pause", function () {
      if (blocked) { blocked = false; render(); return; }
      if (!audio.ended) log(media, "pause", audio);
      render();
    });

    audio.addEventListener("ended", function () {
      log(media, "ended", audio);
      ended = true;
      state.finished[media] = true;
      store.save();
      render();
      if (allHeard()) openAnswering();
      nextFocus();
    });

    audio.addEventListener("timeupdate", function () { if (!audio.seeking) lastTime = audio.currentTime; });

    audio.addEventListener("seeking", function () {
      if (ourSeek) { ourSeek = false; return; }
      if (allowSeeking) return;
      // Seeks from the browser's or the system's media controls are undone and logged.
      log(media, "seek_blocked", audio);
      ourSeek = true;
      audio.currentTime = lastTime;
    });

    audio.addEventListener("error", function () {
      status.textContent = "The sound could not be loaded. Please check your connection and reload the page.";
    });

    render();
    return self;
  }

  // --- playhead over the picture ----------------------------------------------------
  // The bundle records which pixel columns of the image span the clip (x0..x1 of width)
  // and which seconds they show (t0..t1); the line follows whichever clip is playing.
  // Where the page shows only the plot area (data-view="plot", axes drawn by the page),
  // the line's box is that area: columns x0..x1 are its left and right edges.
  const playhead = (function () {
    const figure = document.getElementById("heatmap");
    const line = document.getElementById("playhead");
    const plotOnly = !!figure && figure.dataset.view === "plot";
    let current = null;
    function place(audio) {
      const d = figure.dataset;
      const x0 = parseFloat(d.x0), x1 = parseFloat(d.x1), width = parseFloat(d.width);
      const t0 = parseFloat(d.t0 || "0");
      const t1 = parseFloat(d.t1) || audio.duration || 1;
      const t = Math.min(Math.max(audio.currentTime, t0), t1);
      const fraction = (t - t0) / ((t1 - t0) || 1);
      const haveTimeline = isFinite(x0) && isFinite(x1) && isFinite(width) && width > 0;
      const left = haveTimeline && !plotOnly ? (x0 + fraction * (x1 - x0)) / width : fraction;
      line.style.left = (100 * left).toFixed(3) + "%";
    }
    function frame() {
      if (!current) return;
      place(current);
      if (!current.paused && !current.ended) window.requestAnimationFrame(frame);
      else { line.classList.remove("visible"); current = null; }
    }
    // Where the bundle says the plot area's rows are, the line spans only the plot.
    if (figure && line && !plotOnly) {
      const y0 = parseFloat(figure.dataset.y0), y1 = parseFloat(figure.dataset.y1);
      const height = parseFloat(figure.dataset.height);
      if (isFinite(y0) && isFinite(y1) && isFinite(height) && height > 0 && y1 > y0) {
        line.style.top = (100 * y0 / height).toFixed(3) + "%";
        line.style.bottom = (100 * (1 - y1 / height)).toFixed(3) + "%";
      }
    }
    return {
      follow: function (audio) {
        if (!figure || !line) return;
        current = audio;
        place(audio);  // (positioned before it is shown, so it never flashes at the left edge)
        line.classList.add("visible");
        window.requestAnimationFrame(frame);
      },
    };
  })();

  audios.forEach(Player);

  // Media keys and the system's media controls go through the same rules.
  if (navigator.mediaSession && !allowSeeking) {
    ["seekbackward", "seekforward", "seekto"].forEach(function (action) {
      try { navigator.mediaSession.setActionHandler(action, function () { /* no seeking in this study */ }); } catch (e) { /* unsupported */ }
    });
  }

  if (!mustFinish || revising || allHeard()) openAnswering();

  // --- confidence slider: "not set" until the participant moves it -------------------
  const slider = document.getElementById("confidence-slider");
  const confidence = document.getElementById("confidence");
  const shown = document.getElementById("confidence-value");
  if (slider && confidence) {
    const update = function () {
      confidence.value = slider.value;
      slider.classList.remove("unset");
      slider.setAttribute("aria-valuetext", slider.value + " percent");
      shown.textContent = slider.value + "%";
    };
    slider.addEventListener("input", update);
    slider.addEventListener("change", update);
    if (confidence.value === "") slider.setAttribute("aria-valuetext", "not set");
  }

  H.submitForm(form, {
    beforeSend: function () {
      if (fieldset.disabled || state.answerableAt == null) return false;
      if (confidence && confidence.value === "") {
        const status = document.getElementById("send-status");
        status.textContent = "Please set how confident you are with the slider.";
        status.classList.add("error");
        slider.focus();
        return false;
      }
      form.elements.rt_ms.value = Math.max(0, store.now() - state.answerableAt).toFixed(1);
      form.elements.events.value = JSON.stringify(state.events);
      const seen = interaction.values();
      Object.keys(seen).forEach(function (name) { if (form.elements[name]) form.elements[name].value = seen[name]; });
      return true;
    },
    onStored: function () { store.clear(); interaction.stop(); },
    onNextTrial: swapIn,
  });

  // Focus the first control the participant needs (the play button has autofocus,
  // which a swapped-in trial does not get).
  if ((allHeard() && !revising) || swapped) nextFocus();
  preload(root);
  }

  start(document.getElementById("trial"), false);
})();
