/* BrefBoard browser recorder.
 *
 * MediaRecorder emits a chunk every CHUNK_MS; each chunk is numbered, kept in
 * IndexedDB, and sent to the recording session in order, retried until the
 * server acknowledges it (the server commits it first); only then is it
 * removed from IndexedDB. A re-sent chunk is harmless. After a reload or a
 * network cut the page sends what IndexedDB still holds, then offers to resume
 * the unfinished session (a new MediaRecorder stream is appended, marked
 * stream_start) or to finish it. At most the audio not yet emitted is lost.
 *
 * While it records the page shows the elapsed time (mm:ss), the microphone's
 * input level (a <meter>, from a Web Audio AnalyserNode on the same stream), a
 * warning after SILENCE_MS below SILENCE_RMS (a muted or wrong microphone
 * records silence), and the chunks waiting to be sent, sent and refused.
 * No inline script anywhere: the Content-Security-Policy is script-src 'self'.
 */
(function () {
  "use strict";
  // The page's language: Django's catalogue (/jsi18n/, loaded before this file); the French text without it.
  const gettext = window.gettext || ((s) => s);
  const ngettext = window.ngettext || ((one, many, n) => (n > 1 ? many : one));
  const interpolate = window.interpolate || ((fmt, obj) => fmt.replace(/%\((\w+)\)s/g, (m, k) => String(obj[k])));
  const CHUNK_MS = 3000;
  const SILENCE_RMS = 0.003;   // about -50 dBFS: below it, the microphone hears nothing
  const SILENCE_MS = 5000;     // that long below it, and the page says so
  const LEVEL_EVERY_MS = 100;  // a timer, not requestAnimationFrame: it also runs in a background tab
  const root = document.getElementById("recorder");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const statusEl = $("rec-status"), liveEl = $("live-transcript"), levelEl = $("level");
  const startBtn = $("start"), stopBtn = $("stop");
  const elapsedEl = $("rec-elapsed"), silenceEl = $("rec-silence");
  const queuedEl = $("chunks-queued"), sentEl = $("chunks-sent"), failedEl = $("chunks-failed");

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function api(url, options) {
    const opts = Object.assign({credentials: "same-origin", headers: {}}, options || {});
    opts.headers = Object.assign({"X-CSRFToken": csrfToken(), "Accept": "application/json"}, opts.headers);
    const r = await fetch(url, opts);
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    return {ok: r.ok, status: r.status, body: body};
  }
  function say(text) { statusEl.textContent = text; }

  // --- Chunks waiting for their acknowledgement, kept across reloads (IndexedDB) ---
  const pending = (function () {
    let dbPromise = null;
    function open() {
      if (!window.indexedDB) return Promise.resolve(null);
      if (!dbPromise) {
        dbPromise = new Promise((resolve) => {
          const req = indexedDB.open("brefboard", 1);
          req.onupgradeneeded = () => req.result.createObjectStore("chunks", {keyPath: ["session", "index"]});
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => resolve(null);  // private mode: work without it
        });
      }
      return dbPromise;
    }
    async function run(mode, fn) {
      const db = await open();
      if (!db) return null;
      return new Promise((resolve) => {
        const tx = db.transaction("chunks", mode);
        const result = fn(tx.objectStore("chunks"));
        tx.oncomplete = () => resolve(result && "result" in result ? result.result : null);
        tx.onerror = tx.onabort = () => resolve(null);
      });
    }
    return {
      put: (item) => run("readwrite", (st) => st.put(item)),
      remove: (sessionId, index) => run("readwrite", (st) => st.delete([sessionId, index])),
      all: () => run("readonly", (st) => st.getAll()).then((rows) => rows || []),
    };
  })();

  function pickMimeType() {
    const wanted = ["audio/webm;codecs=opus", "audio/webm", "audio/mp4;codecs=mp4a.40.2", "audio/mp4"];
    for (const t of wanted) if (window.MediaRecorder && MediaRecorder.isTypeSupported(t)) return t;
    return "";
  }

  // --- State of the current session ---------------------------------------------------
  let session = null;        // {id, url}
  let recorder = null, stream = null, audioCtx = null;
  let nextIndex = 0, streamStart = true, streamNo = 0;
  const queue = [];          // [{session, index, blob, streamStart, stream}]
  let sending = false, livePoll = null;
  window.brefboard = {maxLevel: 0, level: 0, sent: 0, failed: 0, produced: 0, recovered: 0, silent: false,
                      elapsed: 0, queued: () => queue.length, session: () => session};

  // --- What the user sees while recording ------------------------------------------------------
  function mmss(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(total / 60), sec = total % 60;
    return `${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
  }
  let elapsedBase = 0, streamStartedAt = null, elapsedTimer = null;
  function showElapsed() {
    const ms = elapsedBase + (streamStartedAt === null ? 0 : performance.now() - streamStartedAt);
    window.brefboard.elapsed = ms / 1000;
    if (!elapsedEl) return;
    elapsedEl.textContent = mmss(ms);
    elapsedEl.setAttribute("datetime", `PT${Math.floor(ms / 1000)}S`);
  }
  function elapsedStart(baseMs) {
    elapsedBase = baseMs;
    streamStartedAt = performance.now();
    showElapsed();
    clearInterval(elapsedTimer);
    elapsedTimer = setInterval(showElapsed, 250);
  }
  function elapsedStop() {
    if (streamStartedAt !== null) elapsedBase += performance.now() - streamStartedAt;
    streamStartedAt = null;
    clearInterval(elapsedTimer);
    showElapsed();
  }
  function showCounts() {
    if (queuedEl) queuedEl.textContent = String(queue.length);
    if (sentEl) sentEl.textContent = String(window.brefboard.sent);
    if (failedEl) failedEl.textContent = String(window.brefboard.failed);
  }
  function showSilence(silent) {
    window.brefboard.silent = silent;
    if (silenceEl && silenceEl.hidden === silent) silenceEl.hidden = !silent;
  }

  async function sendLoop() {
    if (sending) return;
    sending = true;
    let delay = 500;
    while (queue.length) {
      const item = queue[0];
      let res;
      try {
        const url = `${root.dataset.sessionsUrl}${item.session}/chunks/${item.index}/` + (item.streamStart ? "?stream_start=1" : "");
        res = await api(url, {method: "PUT", body: item.blob, headers: {"Content-Type": item.blob.type || "application/octet-stream"}});
      } catch (e) {
        res = {ok: false, status: 0};
      }
      // Acknowledged means the server's JSON for this chunk: a session that expired
      // answers a redirect to the login page, which fetch follows to a 200 page.
      if (res.ok && res.body && res.body.index === item.index) {
        queue.shift();
        await pending.remove(item.session, item.index);
        window.brefboard.sent += 1;
        showCounts();
        delay = 500;
        continue;
      }
      if (res.status === 409 && res.body && res.body.code === "index_taken" && Number.isInteger(res.body.next_index)
          && item.stream !== undefined && item.stream === streamNo && res.body.next_index > item.index) {
        // This stream was numbered from a stale state (the server holds more chunks):
        // move it and what follows past them rather than drop it.
        await renumber(item.session, item.stream, item.index, res.body.next_index - item.index);
        continue;
      }
      const expired = (res.ok && !(res.body && res.body.index === item.index))
        || (res.status === 403 && res.body && res.body.code === "csrf");
      if (expired) {
        // Not final: once the user logs in again (another tab) the same chunk goes through.
        say(gettext("Session expirée : reconnectez-vous dans un autre onglet ; les morceaux sont gardés et renvoyés."));
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 15000);
        continue;
      }
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
        say(interpolate(gettext("Morceau %(index)s refusé : %(error)s"), {index: item.index, error: (res.body && res.body.error) || res.status}, true));
        queue.shift();  // the server will never take it; do not block the rest
        window.brefboard.failed += 1;
        showCounts();
        await pending.remove(item.session, item.index);
        continue;
      }
      say(interpolate(gettext("Réseau indisponible, nouvel essai dans %(s)s s…"), {s: Math.round(delay / 1000)}, true));
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
    sending = false;
  }

  async function renumber(sessionId, stream, from, shift) {
    // Indexes first, synchronously, so that a chunk emitted meanwhile takes the next free one.
    const moved = queue.filter((q) => q.session === sessionId && q.stream === stream && q.index >= from);
    const old = moved.map((q) => q.index);
    moved.forEach((q) => { q.index += shift; });
    if (session && session.id === sessionId && stream === streamNo) nextIndex += shift;
    for (const i of old) await pending.remove(sessionId, i);
    for (const q of moved) await pending.put(q);
  }

  let levelTimer = null;
  function meter(mediaStream) {
    let quietSince = performance.now();
    showSilence(false);
    try {
      audioCtx = new (window.AudioContext || window.webkitAudioContext)();
      const src = audioCtx.createMediaStreamSource(mediaStream);
      const analyser = audioCtx.createAnalyser();
      analyser.fftSize = 2048;
      src.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      clearInterval(levelTimer);
      levelTimer = setInterval(() => {
        if (!recorder) { clearInterval(levelTimer); return; }
        if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        const rms = Math.sqrt(sum / buf.length);
        const shown = Math.min(1, rms * 4);
        levelEl.value = shown;
        levelEl.setAttribute("aria-valuetext", `${Math.round(shown * 100)} %`);
        window.brefboard.level = rms;
        window.brefboard.maxLevel = Math.max(window.brefboard.maxLevel, rms);
        const now = performance.now();
        if (rms >= SILENCE_RMS) quietSince = now;
        showSilence(now - quietSince >= SILENCE_MS);
      }, LEVEL_EVERY_MS);
    } catch (e) { /* the meter is a nicety */ }
  }

  function meterStop() {
    clearInterval(levelTimer);
    levelEl.value = 0;
    levelEl.setAttribute("aria-valuetext", "0 %");
    showSilence(false);
  }

  async function startRecorder(elapsedFromMs) {
    stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
    const mimeType = pickMimeType();
    recorder = new MediaRecorder(stream, mimeType ? {mimeType: mimeType} : {});
    streamStart = true;  // this MediaRecorder's first chunk carries its own header
    const streamId = ++streamNo;  // not "stream": that is the MediaStream above
    recorder.ondataavailable = async (ev) => {
      if (!ev.data || ev.data.size === 0) return;
      const item = {session: session.id, index: nextIndex++, blob: ev.data, streamStart: streamStart, stream: streamId};
      streamStart = false;
      window.brefboard.produced = nextIndex;
      queue.push(item);  // in order, synchronously: the IndexedDB copy may land later
      showCounts();
      await pending.put(item);
      sendLoop();
    };
    recorder.start(CHUNK_MS);
    elapsedStart(elapsedFromMs || 0);
    meter(stream);
    startBtn.disabled = true;
    stopBtn.disabled = false;
    say(gettext("Enregistrement en cours…"));
    livePoll = setInterval(refreshLive, 3000);
    return recorder.mimeType || mimeType || "audio/webm";
  }

  async function refreshLive() {
    if (!session) return;
    const r = await api(`${root.dataset.sessionsUrl}${session.id}/`).catch(() => null);
    if (r && r.ok && r.body) liveEl.textContent = r.body.live_text || "";
  }

  async function start() {
    startBtn.disabled = true;
    const mimeType = pickMimeType() || "audio/webm";
    const r = await api(root.dataset.sessionsUrl, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({mime_type: mimeType, language: root.dataset.language,
        speakers: (document.getElementById("rec-speakers") || {}).value || ""})});
    if (!r.ok) { say(gettext("Impossible de démarrer : ") + ((r.body && r.body.error) || r.status)); startBtn.disabled = false; return; }
    session = r.body;
    nextIndex = 0;
    try { await startRecorder(); } catch (e) { say(gettext("Micro indisponible : ") + e); startBtn.disabled = false; }
  }

  function stopRecorder() {
    return new Promise((resolve) => {
      if (!recorder || recorder.state === "inactive") return resolve();
      recorder.addEventListener("stop", () => resolve(), {once: true});
      recorder.stop();
    });
  }

  async function waitQueue() {
    while (queue.length || sending) await new Promise((r) => setTimeout(r, 200));
  }

  async function finish() {
    stopBtn.disabled = true;
    say(gettext("Envoi des derniers morceaux…"));
    await stopRecorder();
    recorder = null;
    elapsedStop();
    meterStop();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (audioCtx) audioCtx.close();
    clearInterval(livePoll);
    await waitQueue();
    await finishSession(false);
  }

  async function finishSession(allowGaps) {
    say(gettext("Finalisation…"));
    const body = JSON.stringify({allow_gaps: allowGaps === true});
    for (let tries = 0; tries < 5; tries++) {
      const r = await api(`${root.dataset.sessionsUrl}${session.id}/finish/`, {method: "POST", headers: {"Content-Type": "application/json"}, body: body});
      if (r.ok) { say(gettext("Transcription en file d'attente.")); window.location.href = r.body.url; return; }
      if (r.status === 409 && r.body && r.body.missing && r.body.missing.length) {
        // A missing chunk can no longer be sent (it lived in a page that is gone):
        // say so, and let the user finish with what the server has.
        say(interpolate(ngettext("Morceau manquant : %(list)s (perdu pendant une coupure).",
          "Morceaux manquants : %(list)s (perdus pendant une coupure).", r.body.missing.length),
          {list: r.body.missing.join(", ")}, true));
        const btn = document.createElement("button");
        btn.type = "button";
        btn.id = "finish-anyway";
        btn.textContent = gettext("Terminer sans les morceaux manquants");
        btn.onclick = () => { btn.remove(); finishSession(true); };
        statusEl.after(btn);
        return;
      }
      say(gettext("Échec de la finalisation : ") + ((r.body && r.body.error) || r.status));
      await new Promise((res) => setTimeout(res, 2000));
    }
  }

  // --- Unfinished sessions after a reload ---------------------------------------------------
  // Where a resumed stream starts: one past the highest index the server holds, asked
  // again now (the offer may be old), and past any chunk still waiting in this browser.
  // Never the count of chunks (gaps) and never a falsy-0 fallback.
  async function resumeIndex(s) {
    let next = Number.isInteger(s.next_index) ? s.next_index : null;
    const r = await api(`${root.dataset.sessionsUrl}${s.id}/`).catch(() => null);
    if (r && r.ok && r.body && Number.isInteger(r.body.next_index)) next = Math.max(next === null ? 0 : next, r.body.next_index);
    for (const row of await pending.all()) if (row.session === s.id) next = Math.max(next === null ? 0 : next, row.index + 1);
    for (const q of queue) if (q.session === s.id) next = Math.max(next === null ? 0 : next, q.index + 1);
    return next === null ? 0 : next;
  }

  async function checkUnfinished() {
    const r = await api(root.dataset.unfinishedUrl).catch(() => null);
    if (!r || !r.ok) return;
    // Chunks a previous page could not get acknowledged: send them now, in order.
    const open = new Set(r.body.sessions.map((s) => s.id));
    const rows = (await pending.all()).sort((a, b) => a.session - b.session || a.index - b.index);
    for (const row of rows) {
      if (!open.has(row.session)) { await pending.remove(row.session, row.index); continue; }
      queue.push(row);
    }
    showCounts();
    if (queue.length) {
      say(interpolate(ngettext("Envoi de %(n)s morceau retrouvé dans le navigateur…",
          "Envoi de %(n)s morceaux retrouvés dans le navigateur…", queue.length), {n: queue.length}, true));
      window.brefboard.recovered = queue.length;
      await sendLoop();
      say(gettext("Morceaux retrouvés envoyés."));
    }
    const again = await api(root.dataset.unfinishedUrl).catch(() => null);
    if (!again || !again.ok || !again.body.sessions.length) return;
    const s = again.body.sessions[0];
    $("resume-info").textContent = interpolate(ngettext("%(n)s morceau reçu", "%(n)s morceaux reçus", s.received), {n: s.received}, true);
    $("resume").hidden = false;
    liveEl.textContent = s.live_text || "";
    $("resume-continue").onclick = async () => {
      $("resume").hidden = true;
      session = s;
      nextIndex = await resumeIndex(s);
      // The elapsed time goes on from what the server holds (a chunk is CHUNK_MS of audio).
      try { await startRecorder(s.received * CHUNK_MS); } catch (e) { say(gettext("Micro indisponible : ") + e); }
    };
    $("resume-finish").onclick = async () => { $("resume").hidden = true; session = s; await finishSession(false); };
    $("resume-discard").onclick = async () => {
      await api(`${root.dataset.sessionsUrl}${s.id}/discard/`, {method: "POST"});
      $("resume").hidden = true;
    };
  }

  startBtn.addEventListener("click", start);
  stopBtn.addEventListener("click", finish);
  checkUnfinished();
})();
