"""Long recordings split across workers (recordings/split.py), with a real worker of two
processes and tiny.en: sentences separated by silences, forced into 3+ pieces by small
thresholds. Every sentence's words come back once, in order, at the times the unsplit
run gives them; progress reaches 100; cancel stops the pieces; a killed piece is redone
alone."""
import os
import signal
import time
import wave

import numpy as np
import pytest

from brefboard.recordings import split
from brefboard.recordings.models import JobPiece, Recording, Segment
from tests.helpers import Worker, espeak, job_of, upload_json, wait_for, words

WORKER = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def with_worker(test):
    for mark in WORKER:
        test = mark(test)
    return test

SENTENCES = [
    "The quarterly budget meeting will begin at nine o'clock.",
    "Please bring the marketing report for the northern region.",
    "Our engineers finished the bridge inspection yesterday afternoon.",
    "The library closes early on Friday because of the holiday.",
    "Remember to water the tomatoes before the weekend.",
    "Seven volunteers painted the school fence in green.",
]
# Words that occur in one sentence only: each must be in the transcript exactly once.
MARKERS = ["budget", "marketing", "engineers", "library", "tomatoes", "volunteers"]
SPLIT_ENV = {"BREFBOARD_SPLIT_ABOVE_SECONDS": "10", "BREFBOARD_SPLIT_PIECE_SECONDS": "9"}


@pytest.fixture
def two_process_worker(start_worker, tmp_path):
    started = []

    def start(env=None):
        w = Worker(tmp_path / f"split-worker-{len(started)}.log", env={**SPLIT_ENV, **(env or {})}, concurrency=2)
        started.append(w)
        return w.start()

    yield start
    for w in started:
        w.stop()


@pytest.fixture(scope="session")
def sentences_wav(audio_dir):
    """The sentences one after the other, 1.5 s of silence between them (about 35 s)."""
    rate, out = None, []
    for i, text in enumerate(SENTENCES):
        path = espeak(text, audio_dir / f"sentence-{i}.wav")
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            out.append(np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16))
        out.append(np.zeros(int(1.5 * rate), dtype=np.int16))
    dst = audio_dir / "sentences.wav"
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(out).tobytes())
    return dst


def upload(client, path):
    return upload_json(client, path, language="en")


def pieces_of(body):
    return list(JobPiece.objects.filter(job_id=body["job"]).order_by("index"))


def first_time(segments, word):
    for start, text in segments:
        if word in words(text):
            return start
    return None


@with_worker
def test_split_transcript_matches_the_unsplit_one_and_a_killed_piece_is_redone_alone(
        alice_client, sentences_wav, two_process_worker, settings):
    from brefboard.recordings import jobs

    worker = two_process_worker({"BREFBOARD_HEARTBEAT_SECONDS": "2"})
    body = upload(alice_client, sentences_wav)
    progress = []

    def running_piece():
        progress.append(job_of(body).progress)
        running = [p for p in pieces_of(body) if p.status == "running" and p.worker]
        return running and running[0]

    victim = wait_for(running_piece, timeout=120, interval=0.1, what="a piece to run",
                      state=lambda: (job_of(body).as_dict(), worker.output()[-3000:]))
    assert len(pieces_of(body)) >= 3
    os.kill(int(victim.worker.rpartition(":")[2]), signal.SIGKILL)

    def done():
        progress.append(job_of(body).progress)
        return job_of(body).status not in ("queued", "running")

    wait_for(done, timeout=240, interval=0.2, what="the split job to finish",
             state=lambda: ([(p.index, p.status, p.attempts) for p in pieces_of(body)], worker.output()[-3000:]))
    job = job_of(body)
    assert job.status == "done" and job.completions == 1 and job.progress == 100.0, job.as_dict()
    pieces = pieces_of(body)
    attempts = {p.index: p.attempts for p in pieces}
    assert attempts[victim.index] == 2, attempts  # the killed piece was redone ...
    assert all(n == 1 for i, n in attempts.items() if i != victim.index), attempts  # ... alone
    cuts = [p.start for p in pieces] + [pieces[-1].end]
    assert cuts == sorted(cuts) and cuts[0] == 0.0
    assert progress[-1] == 100.0 and any(0 < p < 100 for p in progress)  # the sum of the pieces

    rec = Recording.objects.get(pk=body["recording"])
    said = words(rec.transcript)
    assert all(said.count(w) == 1 for w in MARKERS), rec.transcript
    assert [said.index(w) for w in MARKERS] == sorted(said.index(w) for w in MARKERS), rec.transcript
    segs = list(Segment.objects.filter(recording=rec).order_by("index").values_list("start", "end", "text"))
    starts = [s for s, _e, _t in segs]
    assert starts == sorted(starts) and all(s <= e for s, e, _t in segs), segs

    # The same file unsplit, with the same engine: each sentence starts at the same time.
    whole = jobs.engine_for_worker().transcribe(str(sentences_wav), language="en", beam_size=settings.BREFBOARD_BEAM_SIZE)
    unsplit = [(s.start, s.text) for s in whole.segments]
    for w in MARKERS:
        a, b = first_time([(s, t) for s, _e, t in segs], w), first_time(unsplit, w)
        assert a is not None and b is not None and abs(a - b) < 1.0, (w, a, b, segs, unsplit)


@with_worker
def test_cancel_stops_every_piece(alice_client, sentences_wav, two_process_worker):
    worker = two_process_worker()
    body = upload(alice_client, sentences_wav)
    wait_for(lambda: any(p.status == "running" for p in pieces_of(body)), timeout=120, interval=0.1,
             what="a piece to run", state=lambda: worker.output()[-3000:])
    r = alice_client.post(f"/api/jobs/{body['job']}/cancel/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    wait_for(lambda: not any(p.status == "running" for p in pieces_of(body)), timeout=15, interval=0.2,
             what="the running pieces to stop", state=lambda: [(p.index, p.status) for p in pieces_of(body)])
    time.sleep(3)  # a waiting piece message, had it not been revoked, would run now
    assert all(p.status == "cancelled" for p in pieces_of(body) if p.status != "done")
    assert any(p.status == "cancelled" for p in pieces_of(body))
    assert not any(p.status == "running" for p in pieces_of(body))
    rec = Recording.objects.get(pk=body["recording"])
    assert rec.status == "cancelled" and rec.transcript == "" and not Segment.objects.filter(recording=rec).exists()
    assert job_of(body).status == "cancelled" and job_of(body).completions == 0
    # The piece that was running notices at its next heartbeat or when its engine returns: on a
    # loaded machine that can come after the 3 s above.
    wait_for(lambda: "cancelled or taken over" in worker.output(), timeout=60, interval=0.5,
             what="the worker to drop the cancelled piece", state=lambda: worker.output()[-3000:])


def test_cut_points_fall_in_the_silences(sentences_wav):
    from brefboard.transcription import pipeline

    samples = pipeline.load_audio(str(sentences_wav))
    cuts = split.cut_points(samples, 9.0)
    assert len(cuts) >= 4 and cuts[0] == 0.0 and cuts[-1] == pytest.approx(len(samples) / 16000)
    for c in cuts[1:-1]:
        around = samples[int((c - 0.15) * 16000):int((c + 0.15) * 16000)]
        assert np.abs(around).max() < 0.01, c  # in a pause, not in a word
    piece = split.piece_samples(str(sentences_wav), cuts[1], cuts[2])
    assert abs(len(piece) - (cuts[2] - cuts[1]) * 16000) < 0.05 * 16000
