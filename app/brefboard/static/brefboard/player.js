/* BrefBoard: a transcript you can listen to (templates/recordings/_player.html).
 *
 * - Each segment is a <button>: it plays the audio from the segment's start.
 * - While the audio plays, the segment under the play position gets
 *   aria-current="true" (class "current") and is scrolled into view; focus stays
 *   where the user left it.
 * - ?q=words (the library search carries it) or the page's own search box marks
 *   the matching words with <mark>, says "occurrence 1 sur N", and moves the
 *   player to the first hit's segment; ← → go to the previous / next hit.
 * - #t=12.5 moves the player there.
 * Seeking relies on the audio endpoint's byte ranges (206): the browser asks
 * only for the part it plays.
 * A static file, not an inline script: the Content-Security-Policy allows
 * scripts from the site only (script-src 'self').
 */
(function () {
  "use strict";
  // The page's language: Django's catalogue (/jsi18n/, loaded before this file); the French text without it.
  const gettext = window.gettext || ((s) => s);
  const ngettext = window.ngettext || ((one, many, n) => (n > 1 ? many : one));
  const interpolate = window.interpolate || ((fmt, obj) => fmt.replace(/%\((\w+)\)s/g, (m, k) => String(obj[k])));
  const list = document.getElementById("segments");
  if (!list) return;
  const audio = list.dataset.player ? document.getElementById(list.dataset.player) : null;
  const items = Array.from(list.querySelectorAll("li[data-start]"));
  const starts = items.map((li) => parseFloat(li.dataset.start));
  const form = document.getElementById("transcript-search");
  const input = document.getElementById("transcript-q");
  const hitsOut = document.getElementById("hits");
  const prev = document.getElementById("hit-prev");
  const next = document.getElementById("hit-next");
  let current = -1;
  let hits = [];   // <mark> elements, in reading order
  let hitAt = -1;

  function segmentAt(t) {
    // The last segment starting at or before t (segments are in time order).
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= t + 0.05) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function highlight(i) {
    if (i === current) return;
    if (current >= 0 && items[current]) {
      items[current].classList.remove("current");
      items[current].removeAttribute("aria-current");
    }
    current = i;
    if (i < 0 || !items[i]) return;
    items[i].classList.add("current");
    items[i].setAttribute("aria-current", "true");
    // Scrolling does not move the focus: a keyboard user stays where they were.
    items[i].scrollIntoView({block: "nearest", inline: "nearest"});
  }

  function seek(t, play) {
    highlight(segmentAt(t));
    if (!audio) return;
    const go = () => {
      audio.currentTime = t;
      if (play) {
        const p = audio.play();
        if (p && p.catch) p.catch(() => { /* autoplay refused: the position is set, the user presses play */ });
      }
    };
    if (audio.readyState >= 1) { go(); return; }
    audio.addEventListener("loadedmetadata", go, {once: true});
    if (audio.preload === "none" || audio.networkState === 0) audio.load();
  }

  list.addEventListener("click", (ev) => {
    const button = ev.target.closest("button.seg");
    if (!button || !list.contains(button)) return;
    seek(parseFloat(button.dataset.start), true);
  });

  if (audio) {
    const follow = () => highlight(segmentAt(audio.currentTime));
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
  }

  // --- Search: <mark> the words, jump to the hits --------------------------------------------

  const WORD = /[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu;
  function fold(s) {
    return s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  }
  function terms(q) {
    return Array.from(new Set((fold(q || "").match(WORD) || []).map((w) => w.replace(/['’-]+$/, ""))))
      .filter((w) => w.length >= 2);
  }

  const texts = items.map((li) => li.querySelector(".seg-text"));
  const original = texts.map((el) => (el ? el.textContent : ""));

  function mark(q) {
    const wanted = terms(q);
    hits = [];
    hitAt = -1;
    texts.forEach((el, i) => {
      if (!el) return;
      const text = original[i];
      if (!wanted.length) { el.textContent = text; return; }
      const frag = document.createDocumentFragment();
      let last = 0;
      for (const m of text.matchAll(WORD)) {
        const w = fold(m[0]);
        // A word matches a search term it begins with: "decid" finds "décidé", "Maria" finds "Maria's".
        if (!wanted.some((t) => w.startsWith(t))) continue;
        if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
        const mk = document.createElement("mark");
        mk.textContent = m[0];
        mk.dataset.segment = String(i);
        frag.appendChild(mk);
        hits.push(mk);
        last = m.index + m[0].length;
      }
      if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
      el.replaceChildren(frag);
    });
    if (hitsOut) {
      hitsOut.textContent = !wanted.length ? "" : hits.length
        ? interpolate(ngettext("%(n)s occurrence", "%(n)s occurrences", hits.length), {n: hits.length}, true)
        : gettext("Aucune occurrence");
    }
    if (prev) prev.disabled = hits.length < 2;
    if (next) next.disabled = hits.length < 2;
    if (hits.length) goToHit(0);
  }

  function goToHit(k) {
    if (!hits.length) return;
    if (hitAt >= 0 && hits[hitAt]) hits[hitAt].classList.remove("active");
    hitAt = (k + hits.length) % hits.length;
    const mk = hits[hitAt];
    mk.classList.add("active");
    if (hitsOut) hitsOut.textContent = interpolate(gettext("Occurrence %(at)s sur %(n)s"), {at: hitAt + 1, n: hits.length}, true);
    const i = parseInt(mk.dataset.segment, 10);
    seek(starts[i], false);
  }

  if (prev) prev.addEventListener("click", () => goToHit(hitAt - 1));
  if (next) next.addEventListener("click", () => goToHit(hitAt + 1));
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = input ? input.value : "";
      const url = new URL(window.location.href);
      if (q.trim()) url.searchParams.set("q", q); else url.searchParams.delete("q");
      url.hash = "";
      window.history.replaceState(null, "", url);
      mark(q);
    });
  }

  // --- Arriving: ?q= from the library search, #t= for a moment ------------------------------

  const q = new URLSearchParams(window.location.search).get("q");
  const t = /(?:^#|&)t=(\d+(?:\.\d+)?)/.exec(window.location.hash);
  if (q && input) input.value = q;
  if (q) mark(q);
  if (t) seek(parseFloat(t[1]), false);
})();
