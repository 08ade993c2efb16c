/* BrefBoard: live state of transcription jobs, without reloading the page.
 *
 * Every element with data-job-url (the job's JSON, /api/jobs/<id>/) and
 * data-status is polled every 2 s while its job is queued or running; its
 * children marked data-job-field="status|stage|progress|percent|stuck|notice"
 * follow the answer. Polling stops when the job is done, failed or cancelled.
 * With data-reload-on-done the page reloads once the job is done (the
 * recording page then shows the transcript it did not have).
 * A static file, not an inline script: the Content-Security-Policy allows
 * scripts from the site only (script-src 'self').
 */
(function () {
  "use strict";
  const gettext = window.gettext || ((s) => s);  // Django's catalogue (/jsi18n/), else the French text
  const EVERY_MS = 2000;
  const ACTIVE = ["queued", "running"];

  function field(box, name) { return box.querySelector(`[data-job-field="${name}"]`); }
  function setText(el, text) { if (el && el.textContent !== text) el.textContent = text; }

  function show(box, j) {
    box.dataset.status = j.status;
    box.dataset.progress = String(j.progress);
    setText(field(box, "status"), j.status_label);
    setText(field(box, "stage"), j.stage_label || "");
    const bar = field(box, "progress");
    if (bar) {
      bar.value = j.progress;
      bar.setAttribute("aria-valuetext", `${Math.round(j.progress)} %`);
    }
    setText(field(box, "percent"), String(Math.round(j.progress)));
    const stuck = field(box, "stuck");
    if (stuck) {
      if (j.stuck) setText(stuck, gettext("Travail bloqué : ") + (j.stuck_reason || ""));
      stuck.hidden = !j.stuck;
    }
    const notice = field(box, "notice");
    if (notice) { setText(notice, j.notice || ""); notice.hidden = !j.notice; }
    const error = field(box, "error");
    if (error) { setText(error, j.error || ""); error.hidden = !j.error; }
    // What only means something while the job runs (stage, bar) goes once it ended.
    box.querySelectorAll("[data-job-while-active]").forEach((el) => { el.hidden = !ACTIVE.includes(j.status); });
  }

  function watch(box) {
    let failures = 0;
    async function poll() {
      let j = null;
      try {
        const r = await fetch(box.dataset.jobUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
        if (r.ok) j = await r.json();
        else if (r.status === 404) return;  // the job (or its recording) is gone: nothing more to show
      } catch (e) { j = null; }  // a network blip: try again, a little later each time
      if (j && j.status) {
        failures = 0;
        show(box, j);
        if (!ACTIVE.includes(j.status)) {
          box.dispatchEvent(new CustomEvent("brefboard:job-ended", {bubbles: true, detail: j}));
          if (j.status === "done" && box.dataset.reloadOnDone) window.location.reload();
          return;
        }
      } else {
        failures += 1;
      }
      setTimeout(poll, Math.min(EVERY_MS * (1 + failures), 15000));
    }
    setTimeout(poll, EVERY_MS);
  }

  function start(root) {
    (root || document).querySelectorAll("[data-job-url]").forEach((box) => {
      if (box.dataset.jobWatched || !ACTIVE.includes(box.dataset.status)) return;
      box.dataset.jobWatched = "1";
      watch(box);
    });
  }
  window.brefboardJobs = {start: start};
  start(document);
})();
