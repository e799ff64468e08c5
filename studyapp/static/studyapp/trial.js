// Trial page: audio rules, event log, response time, synchronised playhead.
// Answering opens once the required clips have been heard to the end; the
// response time counts from that moment (performance.now()).
(function () {
  "use strict";
  const trial = document.getElementById("trial");
  if (!trial) return;
  const mustFinish = trial.dataset.mustFinish === "1";
  const maxReplays = parseInt(trial.dataset.maxReplays || "0", 10);
  const fieldset = document.getElementById("answer-fieldset");
  const form = document.getElementById("answer-form");
  const events = [];
  const finished = new Set();
  const required = ["original"];
  if (trial.dataset.needsExplanation === "1") required.push("explanation");
  let answerableAt = null;

  function log(media, name, audio) {
    events.push({ media: media, event: name, client_ms: performance.now(),
                  media_time_s: audio ? audio.currentTime : null });
  }

  function openAnswering() {
    if (answerableAt !== null) return;
    answerableAt = performance.now();
    fieldset.disabled = false;
    const hint = document.getElementById("answer-hint");
    if (hint) hint.textContent = "";
    const first = fieldset.querySelector("input[name=answer]");
    if (first) first.focus();
  }

  function wirePlayer(media) {
    const button = document.getElementById("play-" + media);
    const audio = document.getElementById("audio-" + media);
    const status = document.getElementById("status-" + media);
    if (!button || !audio) return;
    let plays = 0;
    button.addEventListener("click", function () {
      if (!audio.paused) return;
      if (plays > maxReplays) return;
      audio.currentTime = 0;
      audio.play().catch(function () { status.textContent = "Playback failed; press play again."; });
    });
    audio.addEventListener("play", function () {
      plays += 1;
      log(media, plays > 1 ? "replay" : "play", audio);
      if (plays > 1) log(media, "play", audio);
      status.textContent = "Playing";
      button.disabled = true;
      startPlayhead(audio);
    });
    audio.addEventListener("pause", function () { if (!audio.ended) log(media, "pause", audio); });
    audio.addEventListener("seeking", function () { if (audio.currentTime > 0.05 && !audio.ended) log(media, "seek_blocked", audio); });
    audio.addEventListener("ended", function () {
      log(media, "ended", audio);
      finished.add(media);
      const left = maxReplays + 1 - plays;
      status.textContent = left > 0 ? "Played (" + left + " replay" + (left === 1 ? "" : "s") + " left)" : "Played";
      button.disabled = left <= 0;
      if (left > 0) button.textContent = "\u25B6 Play again";
      if (required.every(function (m) { return finished.has(m); })) openAnswering();
    });
  }

  // Playhead over the heatmap: the bundle records which pixel columns span the clip.
  const figure = document.getElementById("heatmap");
  const playhead = document.getElementById("playhead");
  function startPlayhead(audio) {
    if (!figure || !playhead) return;
    const x0 = parseFloat(figure.dataset.x0), x1 = parseFloat(figure.dataset.x1);
    const width = parseFloat(figure.dataset.width);
    const t0 = parseFloat(figure.dataset.t0 || "0");
    const t1 = parseFloat(figure.dataset.t1) || audio.duration;
    const haveTimeline = isFinite(x0) && isFinite(x1) && isFinite(width) && width > 0;
    playhead.classList.add("visible");
    function frame() {
      const t = Math.min(Math.max(audio.currentTime, t0), t1);
      const fraction = (t - t0) / ((t1 - t0) || 1);
      const left = haveTimeline ? (x0 + fraction * (x1 - x0)) / width : fraction;
      playhead.style.left = (100 * left).toFixed(3) + "%";
      if (!audio.paused && !audio.ended) requestAnimationFrame(frame);
      else playhead.classList.remove("visible");
    }
    requestAnimationFrame(frame);
  }

  wirePlayer("original");
  wirePlayer("explanation");
  if (!mustFinish) openAnswering();

  const confidence = document.getElementById("confidence");
  if (confidence) confidence.addEventListener("input", function () {
    document.getElementById("confidence-value").textContent = confidence.value;
  });

  form.addEventListener("submit", function (e) {
    if (answerableAt === null) { e.preventDefault(); return; }
    document.getElementById("rt_ms").value = (performance.now() - answerableAt).toFixed(1);
    document.getElementById("events").value = JSON.stringify(events);
    // A second click must not send a second request; the server would store it once anyway.
    if (form.dataset.sent === "1") { e.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () { document.getElementById("submit-answer").disabled = true; }, 0);
  });
})();
