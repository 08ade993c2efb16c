/* BrefBoard library page: while the summary is being made, ask its JSON every
 * 2 s and reload the page once it is ready (or failed) to show it.
 * A static file, not an inline script: the Content-Security-Policy allows
 * scripts from the site only (script-src 'self').
 */
(function () {
  "use strict";
  const box = document.getElementById("summary");
  if (!box || !box.dataset.statusUrl) return;
  if (box.dataset.status !== "queued" && box.dataset.status !== "running") return;
  async function poll() {
    try {
      const r = await fetch(box.dataset.statusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (r.ok) {
        const j = await r.json();
        if (j.status !== "queued" && j.status !== "running") { window.location.reload(); return; }
      }
    } catch (e) { /* network blip: try again */ }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
