// Volume calibration and the headphone screen (three noises, one with a Huggins-pitch tone).
(function () {
  "use strict";
  const H = window.HearXAI;

  // --- volume calibration: play as often as wanted, continue after one full play -------
  (function calibration() {
    const root = document.getElementById("calibration");
    if (!root) return;
    const audio = document.getElementById("audio-calibration");
    const button = document.getElementById("play-calibration");
    const status = document.getElementById("status-calibration");
    const plays = document.getElementById("calibration-plays");
    const next = document.getElementById("calibration-continue");
    let count = 0;
    button.addEventListener("click", function () {
      if (!audio.paused) { audio.pause(); audio.currentTime = 0; return; }
      audio.currentTime = 0;
      audio.play().catch(function () { status.textContent = "The sound did not start. Please press the button again."; });
    });
    audio.addEventListener("play", function () {
      count += 1;
      status.textContent = "Playing";
      button.innerHTML = "&#9632; Stop";
    });
    audio.addEventListener("pause", function () {
      button.innerHTML = "&#9654; Play noise again";
      if (!audio.ended) status.textContent = "Stopped";
    });
    audio.addEventListener("ended", function () {
      status.textContent = "Played " + count + " time" + (count === 1 ? "" : "s");
      plays.value = String(count);
      next.disabled = false;
      document.getElementById("calibration-hint").textContent = "";
    });
    audio.addEventListener("error", function () {
      status.textContent = "The sound could not be loaded. Please check your connection and reload the page.";
    });
    // The button is disabled in the page until now: a press before this script ran did nothing.
    button.disabled = false;
    button.focus();
  })();

  // --- one screening trial: the sound plays once; answer after it has ended ------------
  (function screening() {
    const root = document.getElementById("screening");
    if (!root || !H) return;
    const audio = document.getElementById("audio-screening");
    const button = document.getElementById("play-screening");
    const status = document.getElementById("status-screening");
    const form = document.getElementById("screening-form");
    const fieldset = document.getElementById("screening-fieldset");
    const store = H.store("hearxai-screen:" + window.location.pathname);
    const state = store.state;
    state.events = state.events || [];
    const bounds = (root.dataset.intervals || "").split(";").map(function (pair) {
      return pair.split(",").map(parseFloat);
    });
    const buttons = [1, 2, 3].map(function (n) { return document.getElementById("interval-" + n); });

    function log(name) {
      state.events.push({ media: "screening", event: name, client_ms: Math.round(store.now() * 10) / 10,
                          media_time_s: Math.round(audio.currentTime * 1000) / 1000 });
      store.save();
    }
    function open() {
      fieldset.disabled = false;
      button.disabled = true;
      status.textContent = "Played. Which noise had the tone?";
      document.getElementById("screening-hint").textContent = "";
      if (state.answerableAt == null) { state.answerableAt = store.now(); store.save(); }
    }
    function highlight() {
      // Light up the button of the noise that is playing, so "first, second, third" is unambiguous.
      const t = audio.currentTime;
      buttons.forEach(function (b, i) {
        const on = bounds[i] && t >= bounds[i][0] && t < bounds[i][1] && !audio.paused;
        b.classList.toggle("sounding", !!on);
      });
      if (!audio.paused && !audio.ended) window.requestAnimationFrame(highlight);
      else buttons.forEach(function (b) { b.classList.remove("sounding"); });
    }

    button.addEventListener("click", function () {
      if (!audio.paused || state.ended) return;
      audio.currentTime = 0;
      audio.play().catch(function () { status.textContent = "The sound did not start. Please press the button again."; });
    });
    audio.addEventListener("play", function () {
      log("play");
      button.disabled = true;
      status.textContent = "Playing: noise 1, noise 2, noise 3";
      window.requestAnimationFrame(highlight);
    });
    audio.addEventListener("pause", function () {
      if (audio.ended) return;
      log("pause");
      // An interrupted play may start again from the beginning; only a full play counts.
      button.disabled = false;
      button.innerHTML = "&#9654; Play the three noises again";
      status.textContent = "Interrupted before the end. Please play it again.";
    });
    audio.addEventListener("ended", function () {
      log("ended");
      state.ended = true;
      store.save();
      open();
      // Focus on the question, not on an answer: a stray Enter must not pick "Noise 1".
      status.setAttribute("tabindex", "-1");
      status.focus();
    });
    audio.addEventListener("error", function () {
      status.textContent = "The sound could not be loaded. Please check your connection and reload the page.";
    });
    if (state.ended) open();

    H.submitForm(form, {
      beforeSend: function () {
        if (fieldset.disabled) return false;
        form.elements.rt_ms.value = Math.max(0, store.now() - state.answerableAt).toFixed(1);
        form.elements.events.value = JSON.stringify(state.events);
        return true;
      },
      onStored: function () { store.clear(); },
    });
  })();
})();
