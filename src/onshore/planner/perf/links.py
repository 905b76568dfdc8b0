"""Per-GPU scale-out (NIC) bandwidth, which the GPU catalog does not carry.

Shared by the KV transfer of disaggregated serving (:mod:`.kv_transfer`) and the all-to-all of
expert parallelism across nodes (:mod:`.moe_layout`).
"""

from __future__ import annotations

from onshore.planner.catalog import Gpu

# Scale-out NIC bandwidth per GPU, Gbit/s per direction (the GPU-to-GPU "compute" fabric, one NIC
# per GPU). DGX H100/H200 and DGX B200: 8 x ConnectX-7 400 Gb/s for 8 GPUs; GB200 NVL72 compute
# trays: one ConnectX-7 400 Gb/s per GPU; DGX A100: 8 x ConnectX-6 200 Gb/s; MI300X/MI325X
# platforms: one 400 Gb/s NIC per GPU (vendor reference designs); L40S PCIe servers: commonly
# 2 x 200 Gb/s for 8 GPUs (an ASSUMPTION). All from vendor system datasheets, from memory: re-check
# before quoting.
SCALEOUT_GBIT_S: dict[str, float] = {
    "h100": 400.0,
    "h200": 400.0,
    "b200": 400.0,
    "gb200": 400.0,
    "a100": 200.0,
    "mi300x": 400.0,
    "mi325x": 400.0,
    "l40s": 50.0,
}
DEFAULT_SCALEOUT_GBIT_S = 400.0


def scaleout_bytes_s(gpu: Gpu) -> float:
    """Nominal scale-out bandwidth of one GPU, bytes/s per direction."""
    return SCALEOUT_GBIT_S.get(gpu.id, DEFAULT_SCALEOUT_GBIT_S) * 1e9 / 8.0
