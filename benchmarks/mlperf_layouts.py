"""What ``mlperf_extract.py`` needs beside the result logs: benchmark facts and serving layouts.

Benchmarks: the planner's model id, the dataset's mean prompt length (computed from the official
MLCommons dataset files; ``/work/shared/research/mlperf-datasets.md`` gives the sources and the
method) and anything that makes a benchmark unrepresentable by the planner.

Layouts: the tensor-parallel degree and weight precision each vendor's harness uses. MLPerf's
system descriptions do not state them (NVIDIA's ``weight_data_types`` says ``fp16`` for its FP8
engines), so they come from the submitters' configuration files, cited per rule below. A result on
an engine or layout not covered here is excluded rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

# MLPerf rounds that must never be fitted: the held-out check of issue 14.
HELD_OUT_ROUNDS = frozenset({"v4.1", "v5.1"})


@dataclass(frozen=True, slots=True)
class Benchmark:
    model: str  # planner catalog id
    input_len: int  # dataset mean prompt tokens (template included)
    dataset: str


_LLAMA2 = Benchmark("llama-2-70b", 222, "OpenOrca 24,576 samples, mean 222.3 tok")
_MIXTRAL = Benchmark("mixtral-8x7b", 427, "OpenOrca+GSM8K+MBXP 15,000 samples, mean 427.4 tok (v5.0+ file)")
_L31_8B = Benchmark("llama-3.1-8b", 871, "CNN/DailyMail 13,368 samples, mean 870.7 tok")
_L31_405B = Benchmark(
    "llama-3.1-405b", 9429, "LongBench/LongDataCollections/Ruler/GovReport 8,313, mean 9,428.6 tok"
)
_DSR1 = Benchmark("deepseek-v3", 804, "DeepSeek-R1 mix 4,388 samples, mean 803.8 tok")

BENCHMARKS: dict[str, Benchmark] = {
    "llama2-70b-99": _LLAMA2,
    "llama2-70b-99.9": _LLAMA2,
    "llama2-70b-interactive-99": _LLAMA2,
    "llama2-70b-interactive-99.9": _LLAMA2,
    "mixtral-8x7b": _MIXTRAL,
    "llama3.1-8b": _L31_8B,
    "llama3.1-8b-interactive": _L31_8B,
    "llama3.1-405b": _L31_405B,
    "llama3.1-405b-interactive": _L31_405B,
    "llama3_1-405b": _L31_405B,  # v5.0 directory name
    "llama3_1-8b": _L31_8B,
    "deepseek-r1": _DSR1,
}


def gpu_id(accelerator: str) -> str | None:
    """The planner's GPU id for a system's ``accelerator_model_name``; None if not catalogued."""
    a = accelerator.upper()
    if "MI300X" in a and "MI325X" in a:
        return None  # mixed MI300X + MI325X systems (MangoBoost): no single GPU type
    if "MI325X" in a:
        return "mi325x"
    if "MI300X" in a:
        return "mi300x"
    if "CTS" in a:
        return None  # H200 "CTS": NVIDIA's custom-thermal 1000 W part, not the 700 W catalog H200
    if "GH200" in a or "GB300" in a or "B300" in a or "NVL" in a or "PCIE" in a:
        return None  # Grace Hopper, Blackwell Ultra, NVL/PCIe boards: other memory and power
    if "GB200" in a:
        return "gb200"
    if "B200" in a:
        return "b200"
    if "H200" in a:
        return "h200"
    if "H100" in a and ("SXM" in a or "HBM3" in a):
        return "h100"
    return None


@dataclass(frozen=True, slots=True)
class Layout:
    tp: int
    precision: str
    source: str
    excluded: str = ""
    parallel: str = ""  # a replica's layout (``moe_layout``): "" is tensor parallel throughout


_NV41 = "closed/NVIDIA/configs/{b}/{s}/__init__.py (v4.1: H100 TP2 use_fp8; H200 TP1 use_fp8)"
_NV50 = (
    "mlcommons/inference_results_v5.0@6069beb closed/NVIDIA/configs/llama2-70b/Offline/__init__.py"
    " (v5.0: Hopper fp8, Blackwell fp4, H200/B200 one GPU per engine; H100 TP1 x PP2)"
)
_NV51 = "closed/NVIDIA/configs/B200-SXM-180GBx8/{s}/*.py (v5.1: Blackwell precision fp4; Hopper fp8)"
_AMD = "closed/AMD/code/{b}/harness_llm/models/*/{s}_mi3*.yaml tensor_parallel_size: 1 (vLLM, fp8)"


def layout(engine: str, framework: str, gpu: str, bench: str, scenario: str, rnd: str) -> Layout:
    """Tensor parallelism and precision of a vendor harness (see the module docstring)."""
    s = scenario.lower()
    model = BENCHMARKS[bench].model
    if "llmboost" in framework.lower():
        return Layout(1, "fp8", "", excluded="MangoBoost LLMBoost harness: layout not sourced")
    if engine == "vllm" and gpu in ("mi300x", "mi325x"):
        if model in ("llama-2-70b", "mixtral-8x7b", "llama-3.1-8b"):
            return Layout(1, "fp8", _AMD.format(b=bench, s=s))
        return Layout(8, "fp8", "", excluded=f"AMD layout for {model} not sourced")
    if engine != "trtllm":
        return Layout(1, "fp8", "", excluded=f"engine {engine or 'unknown'}: layout not sourced")
    blackwell = gpu in ("b200", "gb200")
    precision = "fp4" if blackwell else "fp8"
    if model == "llama-2-70b":
        if rnd in ("v4.0", "v4.1"):
            return Layout(2 if gpu == "h100" else 1, precision, _NV41.format(b="llama2-70b", s=scenario))
        if gpu == "h100":  # from v5.0 NVIDIA runs Llama 2 70B on H100 as TP1 x PP2
            return Layout(2, precision, _NV50, excluded="H100 Llama 2 70B uses pipeline parallelism (v5.0+)")
        return Layout(1, precision, _NV50 if rnd == "v5.0" else _NV51.format(s=scenario))
    if model in ("mixtral-8x7b", "llama-3.1-8b"):
        src = _NV41.format(b="mixtral-8x7b", s=scenario) if rnd == "v4.1" else _NV51.format(s=scenario)
        return Layout(1, precision, src)
    if model == "llama-3.1-405b":
        if gpu == "h100":
            return Layout(8, precision, "", excluded="H100 Llama 3.1 405B layout not sourced")
        if s == "offline":
            # v5.1 Offline: H200 TP4 x PP2, B200/GB200 TP2 x PP2 (configs/*/Offline/llama3_1-405b.py)
            return Layout(
                8, precision, _NV51.format(s=scenario), excluded="405B Offline uses pipeline parallelism"
            )
        # Server/Interactive: H200 TP8, B200/GB200 TP4 (configs/*/Server/llama3_1-405b.py, v5.1)
        return Layout(4 if blackwell else 8, precision, _NV51.format(s=scenario))
    if model == "deepseek-v3":
        # Eight GPUs a replica, attention data parallel (trtllm_build_flags enable_attention_dp: True)
        # with 8-way expert parallelism (moe_expert_parallelism: 8), configs/B200-SXM-180GBx8/*/ and
        # configs/GB200-NVL72_GB200-186GB_aarch64x72/*/deepseek-r1.py, v5.1: the dp-ep layout
        return Layout(
            8,
            precision,
            _NV51.format(s=scenario) + "; DeepSeek-R1 attention DP + EP8 (enable_attention_dp: True)",
            parallel="dp-ep",
        )
    return Layout(1, precision, "", excluded=f"NVIDIA layout for {model} not sourced")
