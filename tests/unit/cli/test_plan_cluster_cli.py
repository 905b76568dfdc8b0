"""``onshore plan size --executor dask --cluster ADDRESS``: a sweep on a running Dask scheduler."""

from __future__ import annotations

import json

from click.testing import CliRunner
from distributed import LocalCluster

from onshore.cli.plan import plan

SIZE = [
    "size",
    "--model",
    "llama-3.1-8b",
    "--mau",
    "100000",
    "--gpus",
    "h100,b200",
    "--tp",
    "1",
    "--precision",
    "fp8",
    "--max-num-seqs",
    "128",
    "--json",
]


def test_a_sweep_on_a_running_scheduler_gives_the_serial_answer() -> None:
    serial = CliRunner().invoke(plan, [*SIZE, "--executor", "serial"])
    assert serial.exit_code == 0, serial.output
    # a scheduler reached over TCP, as a real cluster's would be (its two workers are threads here)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        by_flag = CliRunner().invoke(plan, [*SIZE, "--executor", "dask", "--cluster", address])
        by_env = CliRunner().invoke(
            plan, SIZE, env={"ONSHORE_PLAN_EXECUTOR": "dask", "ONSHORE_PLAN_CLUSTER": address}
        )
        assert len(cluster.scheduler.workers) == 2  # the CLI left the cluster running
    assert by_flag.exit_code == 0, by_flag.output
    assert by_env.exit_code == 0, by_env.output
    expected = json.loads(serial.stdout)
    assert json.loads(by_flag.stdout) == expected
    assert json.loads(by_env.stdout) == expected
