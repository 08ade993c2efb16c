"""Who spoke when: speaker diarization on the workers, in numpy, with Resemblyzer's voice encoder.

The encoder is Resemblyzer's (a GE2E speaker encoder: 3 LSTM layers of 256,
a linear layer, ReLU, L2 norm; 1.4 M parameters). Its weights are the
``pretrained.pt`` that ships inside the ``resemblyzer`` wheel (installed
``--no-deps``: its metadata asks for PyTorch, librosa and webrtcvad, none of
which is needed here). They are read from that file by ``load_weights``, a
restricted unpickler of PyTorch's legacy format that builds numpy arrays only
(no code from the file runs), and the network runs in numpy: no PyTorch (2 GB
with CUDA, 700 MB as a CPU wheel) and no ONNX export on a CPU worker. docs/benchmarks.md
has the measurements behind that choice; ``bench/diarization_runtime.py``
checks that these embeddings equal Resemblyzer's own (PyTorch, librosa).

1. **Speech**: Silero VAD's regions (``pipeline.speech_chunks``, the same
   model that trims Whisper's input).
2. **Frames**: what Resemblyzer computes (``resemblyzer.audio``): the volume
   raised to -30 dBFS, a 40-band mel *power* spectrogram (not log) over 25 ms
   Hann windows every 10 ms (librosa's Slaney mel scale, centred frames).
3. **Embeddings per window**: partials of 160 frames (1.6 s) every
   ``WINDOW_STEP`` seconds inside each speech region (a region shorter than a
   partial gets one, padded), all run through the LSTM at once.
4. **Clustering**: spherical k-means into ``OVERCLUSTER`` groups, then the two
   closest groups are merged (average linkage on cosine similarity) until the
   given number of speakers is left, or, when none is given, while the closest
   pair is more alike than ``MERGE_SIMILARITY`` (tuned on the benchmark's
   conversations, bench/diarization.py). Labels are then smoothed over time.
5. **Turns → segments** (``assign``): each Whisper segment takes the speaker
   that holds most of its time; speakers are numbered in order of first word.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import functools
import glob
import importlib.util
import logging
import os
import pickle
import struct
from dataclasses import dataclass

import numpy as np

from . import pipeline

log = logging.getLogger(__name__)

SAMPLE_RATE = pipeline.SAMPLE_RATE
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 120  # 1.2 s (the encoder was trained on 1.6 s: measured, 1.2 s costs less and tells voices apart as well)
PARTIAL_SAMPLES = PARTIAL_FRAMES * HOP
WINDOW_STEP = 1.0  # seconds between two windows' starts inside a speech region
MAX_WINDOWS = 3000  # longer recordings get a wider step: the LSTM's time and the affinity stay bounded
TARGET_DBFS = -30.0
MAX_SPEAKERS = 8
OVERCLUSTER = 10  # k-means groups before merging
MERGE_SIMILARITY = 0.10  # merge groups more alike than this (mean cosine, embeddings centred)
ONE_VOICE_SIMILARITY = 0.68  # raw embeddings all this alike (average linkage): one voice
MIN_SPEAKER_SHARE = 0.04  # a "speaker" holding less of the windows than this, or fewer than
MIN_SPEAKER_WINDOWS = 4  # this many (4 s of speech), is merged into the nearest one
SMOOTH_WINDOWS = 3  # majority over this many consecutive windows of a region


class DiarizationUnavailable(RuntimeError):
    """The voice encoder's weights are not installed (the resemblyzer wheel)."""


# --- The weights: PyTorch's legacy format, read into numpy ------------------------------------

class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        flat = self.storage.data
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], shape=self.size,
                                               strides=tuple(s * item for s in self.stride))
        return np.array(view, dtype=np.float32)


class _Storage:
    DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64,
              "IntStorage": np.int32, "HalfStorage": np.float16, "ByteStorage": np.uint8}

    def __init__(self, kind: str) -> None:
        self.dtype = np.dtype(self.DTYPES[kind]).newbyteorder("<")
        self.data: np.ndarray | None = None


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _Tensor(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    """Builds dicts, tensors and storages; refuses every other class (no code runs)."""

    ALLOWED = {("collections", "OrderedDict"): collections.OrderedDict,
               ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
               ("torch._utils", "_rebuild_tensor"): _rebuild_tensor}

    def __init__(self, fh, storages: dict) -> None:
        super().__init__(fh)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in _Storage.DTYPES:
            return name
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a weights file") from None

    def persistent_load(self, pid):
        kind, storage_type, key = pid[0], pid[1], pid[2]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        return self.storages.setdefault(key, _Storage(storage_type))


def load_weights(path: str) -> dict[str, np.ndarray]:
    """The ``model_state`` of a PyTorch legacy (non-zip) checkpoint as float32 arrays."""
    storages: dict[str, _Storage] = {}
    with open(path, "rb") as fh:
        for _ in range(3):  # magic number, protocol version, system info
            pickle.Unpickler(fh).load()
        checkpoint = _Unpickler(fh, storages).load()
        keys = pickle.Unpickler(fh).load()
        for key in keys:
            storage = storages[key]
            (count,) = struct.unpack("<q", fh.read(8))
            raw = fh.read(count * storage.dtype.itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    state = checkpoint["model_state"] if "model_state" in checkpoint else checkpoint
    return {name: t.array() for name, t in state.items() if isinstance(t, _Tensor)}


def weights_path() -> str:
    """``pretrained.pt`` of the installed resemblyzer package (found without importing it:
    its ``__init__`` imports PyTorch)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise DiarizationUnavailable("the resemblyzer wheel (the voice encoder's weights) is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "pretrained.pt")


class VoiceEncoder:
    """Resemblyzer's network in numpy: mel frames (batch, 160, 40) → L2-normed 256-d embeddings."""

    def __init__(self, path: str | None = None) -> None:
        path = path or weights_path()
        if not os.path.isfile(path):
            raise DiarizationUnavailable(f"no voice encoder weights at {path}")
        w = load_weights(path)
        self.layers = []
        for k in range(3):
            self.layers.append((np.ascontiguousarray(w[f"lstm.weight_ih_l{k}"].T),
                                np.ascontiguousarray(w[f"lstm.weight_hh_l{k}"].T),
                                w[f"lstm.bias_ih_l{k}"] + w[f"lstm.bias_hh_l{k}"]))
        self.linear_w = np.ascontiguousarray(w["linear.weight"].T)
        self.linear_b = w["linear.bias"]

    def embed(self, mels: np.ndarray, batch: int = 256) -> np.ndarray:
        out = [self._forward(mels[i:i + batch]) for i in range(0, len(mels), batch)]
        return np.concatenate(out) if out else np.zeros((0, 256), np.float32)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32, copy=False)
        n, steps, _ = x.shape
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            gates_x = (x.reshape(n * steps, -1) @ w_ih + bias).reshape(n, steps, 4 * hidden)
            h = np.zeros((n, hidden), np.float32)
            c = np.zeros((n, hidden), np.float32)
            outputs = np.empty((n, steps, hidden), np.float32)
            for t in range(steps):
                g = gates_x[:, t] + h @ w_hh  # PyTorch's order: input, forget, cell, output
                i_f = _sigmoid(g[:, :2 * hidden])
                o = _sigmoid(g[:, 3 * hidden:])
                c = i_f[:, hidden:] * c + i_f[:, :hidden] * np.tanh(g[:, 2 * hidden:3 * hidden])
                h = o * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        raw = np.maximum(h @ self.linear_w + self.linear_b, 0.0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow for large negative x


@functools.lru_cache(maxsize=1)
def _openblas():
    """numpy's bundled OpenBLAS (its thread-local thread count), or None."""
    folder = os.path.join(os.path.dirname(np.__file__) + ".libs")
    for path in glob.glob(os.path.join(folder, "libscipy_openblas*.so")) + glob.glob(os.path.join(folder, "libopenblas*.so")):
        try:
            lib = ctypes.CDLL(path)
            return lib.openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
    return None


@contextlib.contextmanager
def blas_threads(n: int):
    """Run numpy's matrix products on ``n`` threads in this thread only. The LSTM's products are
    small (a few windows × 256 × 1024): threads cost more than they give, and on a worker
    CTranslate2 holds the cores anyway (bench/diarization_runtime.py measures it)."""
    setter = _openblas()
    if setter is None:
        yield
        return
    setter.restype = ctypes.c_int
    previous = setter(ctypes.c_int(n))
    try:
        yield
    finally:
        setter(ctypes.c_int(previous))


@functools.lru_cache(maxsize=1)
def encoder() -> VoiceEncoder:
    """The process-wide encoder (17 MB of weights read once)."""
    return VoiceEncoder()


def available() -> bool:
    try:
        return os.path.isfile(weights_path())
    except DiarizationUnavailable:
        return False


# --- Frames --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney scale and area norm, (40, 201)."""
    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log_part, lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log_part, lin)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights.astype(np.float32)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram as ``resemblyzer.audio.wav_to_mel_spectrogram`` gives it
    (librosa's melspectrogram: centred frames, zero padding, periodic Hann window)."""
    wav = np.asarray(wav, dtype=np.float32)
    padded = np.pad(wav, (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    if n_frames <= 0:
        return np.zeros((0, N_MELS), np.float32)
    frames = np.lib.stride_tricks.as_strided(padded, shape=(n_frames, N_FFT),
                                             strides=(padded.strides[0] * HOP, padded.strides[0]))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Raise (never lower) the level to ``target_dbfs``, as Resemblyzer's preprocessing does."""
    rms = float(np.sqrt(np.mean(np.square(wav, dtype=np.float64)))) if len(wav) else 0.0
    if rms <= 0:
        return wav
    change = target_dbfs - 20 * np.log10(rms)
    return wav if change < 0 else (wav * (10 ** (change / 20))).astype(np.float32)


# --- Windows, clustering, turns ------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    start: float  # seconds on the recording's clock
    end: float
    speaker: int  # 0, 1, … in order of first appearance


@dataclass
class Diarization:
    turns: list[Turn]
    speakers: int
    windows: int = 0


def windows(regions: list[tuple[int, int]], total_seconds: float) -> list[tuple[int, int]]:
    """Sample ranges of the partials inside the speech regions (start, end), one per step."""
    speech = sum(e - s for s, e in regions) / SAMPLE_RATE
    step = max(WINDOW_STEP, speech / MAX_WINDOWS)
    hop = int(step * SAMPLE_RATE)
    out = []
    for s, e in regions:
        if e - s <= PARTIAL_SAMPLES:
            out.append((s, e))
            continue
        last = e - PARTIAL_SAMPLES
        starts = list(range(s, last + 1, hop))
        if last - starts[-1] > hop // 2:
            starts.append(last)
        out += [(a, a + PARTIAL_SAMPLES) for a in starts]
    return out


def _kmeans(x: np.ndarray, k: int, iterations: int = 30) -> np.ndarray:
    """Spherical k-means, deterministic (farthest-point start): labels."""
    centres = [x[int(np.argmax(x @ x.mean(axis=0)))]]
    for _ in range(1, k):
        sims = np.max(x @ np.array(centres).T, axis=1)
        centres.append(x[int(np.argmin(sims))])
    c = np.array(centres)
    labels = np.zeros(len(x), int)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                m = members.mean(axis=0)
                c[j] = m / max(np.linalg.norm(m), 1e-12)
    return labels


def cluster(emb: np.ndarray, speakers: int | None = None, threshold: float = MERGE_SIMILARITY) -> np.ndarray:
    """A speaker label per embedding: over-cluster, then merge (see the module's docstring)."""
    n = len(emb)
    if n == 0:
        return np.zeros(0, int)
    if speakers == 1 or n == 1:
        return np.zeros(n, int)
    k = min(OVERCLUSTER, n)
    labels = _kmeans(emb, k)
    groups = {j: list(np.flatnonzero(labels == j)) for j in range(k) if np.any(labels == j)}

    def similarity(a, b):  # average linkage
        return float(np.mean(emb[groups[a]] @ emb[groups[b]].T))

    min_size = max(MIN_SPEAKER_WINDOWS, MIN_SPEAKER_SHARE * n)
    while len(groups) > 1 and not (speakers and len(groups) <= speakers):
        keys = list(groups)
        small = min(keys, key=lambda g: len(groups[g]))
        if len(groups[small]) < min_size:
            # Too small to be a speaker (a cough, a laugh, a window across a turn): its nearest group.
            nearest = max((g for g in keys if g != small), key=lambda g: similarity(small, g))
            groups[nearest] += groups.pop(small)
            continue
        best, pair = -2.0, None
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                s = similarity(a, b)
                if s > best:
                    best, pair = s, (a, b)
        if not speakers and best < threshold and len(groups) <= MAX_SPEAKERS:
            break
        a, b = pair
        groups[a] += groups.pop(b)
    out = np.zeros(n, int)
    for label, members in enumerate(groups.values()):
        out[members] = label
    return out


def cluster_speakers(emb: np.ndarray, speakers: int | None = None, threshold: float = MERGE_SIMILARITY) -> np.ndarray:
    """Labels per window. The embeddings are centred on this recording's mean first: what all its
    voices share (the room, the microphone, a synthesiser) is taken out, and the voices stand
    apart (espeak-ng's en-us and fr go from cosine 0.78, inside one voice's spread, to clearly
    apart). Centring one voice would only leave its noise, so whether there is more than one is
    asked first on the raw embeddings (``ONE_VOICE_SIMILARITY``)."""
    if speakers is None and len(set(cluster(emb, None, ONE_VOICE_SIMILARITY).tolist())) == 1:
        return np.zeros(len(emb), int)
    centred = emb - emb.mean(axis=0)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    return cluster(centred, speakers, threshold)


def _smooth(labels: np.ndarray, region_of: np.ndarray) -> np.ndarray:
    """Majority over ``SMOOTH_WINDOWS`` neighbours inside the same speech region."""
    out = labels.copy()
    half = SMOOTH_WINDOWS // 2
    for i in range(len(labels)):
        lo, hi = max(0, i - half), min(len(labels), i + half + 1)
        near = labels[lo:hi][region_of[lo:hi] == region_of[i]]
        out[i] = np.bincount(near).argmax()
    return out


# Tighter than Whisper's (pipeline.VAD_PARAMETERS keeps 2 s pauses inside a region, which is
# right for Whisper's context): a turn change is often a pause of half a second.
VAD_PARAMETERS = {"threshold": 0.5, "min_speech_duration_ms": 250, "min_silence_duration_ms": 300,
                  "speech_pad_ms": 100}


def speech_regions(samples: np.ndarray) -> list[dict]:
    try:
        from faster_whisper.vad import VadOptions, get_speech_timestamps
    except ImportError:
        raise DiarizationUnavailable("faster-whisper's VAD (and onnxruntime) are not installed") from None
    if len(samples) == 0:
        return []
    return get_speech_timestamps(samples, VadOptions(**VAD_PARAMETERS), sampling_rate=SAMPLE_RATE)


def diarize(samples: np.ndarray, speakers: int | None = None, *, enc: VoiceEncoder | None = None,
            threshold: float = MERGE_SIMILARITY) -> Diarization:
    """Speaker turns of 16 kHz mono ``samples``; ``speakers``: the number, when the user knows it."""
    samples = pipeline.load_audio(samples)
    chunks = speech_regions(samples)
    regions = [(c["start"], c["end"]) for c in chunks if c["end"] > c["start"]]
    if not regions:
        return Diarization([], 0)
    wav = normalize_volume(samples)
    spans = windows(regions, len(wav) / SAMPLE_RATE)
    mels = np.empty((len(spans), PARTIAL_FRAMES, N_MELS), np.float32)
    for i, (s, e) in enumerate(spans):
        piece = wav[s:e]
        if len(piece) < PARTIAL_SAMPLES:
            piece = np.pad(piece, (0, PARTIAL_SAMPLES - len(piece)))
        mels[i] = mel_frames(piece)[:PARTIAL_FRAMES]
    with blas_threads(1):
        emb = (enc or encoder()).embed(mels)
    labels = cluster_speakers(emb, speakers, threshold)
    region_of = np.array([next(j for j, (s, e) in enumerate(regions) if s <= a < e) for a, _ in spans])
    labels = _smooth(labels, region_of)
    # Each window speaks for the middle of its span (up to halfway to its neighbours).
    turns: list[Turn] = []
    for j, (rs, re_) in enumerate(regions):
        idx = np.flatnonzero(region_of == j)
        centres = [(spans[i][0] + spans[i][1]) / 2 for i in idx]
        bounds = [rs] + [int((centres[m] + centres[m + 1]) / 2) for m in range(len(idx) - 1)] + [re_]
        for m, i in enumerate(idx):
            start, end = bounds[m] / SAMPLE_RATE, bounds[m + 1] / SAMPLE_RATE
            if turns and turns[-1].speaker == labels[i] and abs(turns[-1].end - start) < 1e-6:
                turns[-1] = Turn(turns[-1].start, end, int(labels[i]))
            else:
                turns.append(Turn(start, end, int(labels[i])))
    return _renumber(turns, len(spans))


def _renumber(turns: list[Turn], n_windows: int) -> Diarization:
    order: dict[int, int] = {}
    for t in turns:
        order.setdefault(t.speaker, len(order))
    return Diarization([Turn(round(t.start, 3), round(t.end, 3), order[t.speaker]) for t in turns],
                       len(order), n_windows)


def assign(segments, turns: list[Turn]) -> list[int | None]:
    """The speaker of each segment (objects with ``start``/``end``): the one holding most of its time.

    A segment no turn overlaps (Whisper's times drift a little past the VAD's) takes the
    nearest turn's speaker. Returns one number per segment, renumbered in order of first
    appearance in the transcript; None for all when there are no turns."""
    if not turns:
        return [None] * len(segments)
    raw = []
    for seg in segments:
        share: dict[int, float] = {}
        for t in turns:
            overlap = min(seg.end, t.end) - max(seg.start, t.start)
            if overlap > 0:
                share[t.speaker] = share.get(t.speaker, 0.0) + overlap
        if share:
            raw.append(max(share, key=lambda s: (share[s], -s)))
        else:
            mid = (seg.start + seg.end) / 2
            raw.append(min(turns, key=lambda t: min(abs(t.start - mid), abs(t.end - mid))).speaker)
    order: dict[int, int] = {}
    for s in raw:
        order.setdefault(s, len(order))
    return [order[s] for s in raw]


# --- Names and text with speakers ----------------------------------------------------------------

def turns_text(segments) -> str:
    """The transcript as speaker turns, one paragraph each: ``Name: text``. ``segments``: mappings
    with ``text`` and ``speaker``, the speaker's name ("": not diarized, the text as it is)."""
    paragraphs: list[list[str]] = []
    speakers: list[str] = []
    for seg in segments:
        text = " ".join(str(seg.get("text") or "").split())
        if not text:
            continue
        speaker = seg.get("speaker") or ""
        if paragraphs and speakers[-1] == speaker:
            paragraphs[-1].append(text)
        else:
            paragraphs.append([text])
            speakers.append(speaker)
    return "\n\n".join(f"{who}: {' '.join(words)}" if who else " ".join(words)
                        for who, words in zip(speakers, paragraphs))
