"""The CPU line every benchmark prints: model, cores, the flags that decide precision, load."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

# Flags that give native bf16 (AVX512-BF16, AMX) or only fp32-speed vector units (AVX2, AVX512F).
_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    present = set(line.split(":", 1)[-1].split())
    return [f for f in _FLAGS if f in present]


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        return re.search(r"model name\s*:\s*(.+)", text).group(1).strip()
    except (OSError, AttributeError):
        return platform.processor() or platform.machine()


def cpu_kind() -> str:
    flags = cpu_flags()
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() == "AVX2":
        return "AVX2 only (emulated: ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2)"
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return "native bf16 (" + ", ".join(f for f in flags if "bf16" in f or "amx" in f) + ")"
    return "AVX2 only" if "avx512f" not in flags else "AVX512 without bf16"


def cpu_line() -> str:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return (
        f"CPU: {cpu_model()}, {cores} cores, flags {' '.join(cpu_flags()) or 'none'}; kind: {cpu_kind()}; "
        f"GPU: {gpu}; torch {torch.__version__}; load avg {os.getloadavg()[0]:.1f} (machine shared)"
    )
