"""Thread pools sized from the CPUs this process may use: its affinity mask and a cgroup CPU
quota, split between torchrun's processes; OpenMP asked for sleeping waits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from headstart import cpus
from headstart.engine import distributed


@pytest.fixture
def one_cpu_allowed(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(cpus, "cgroup_cpu_quota", lambda: None)


@pytest.fixture
def eight_cpus_allowed(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(cpus, "cgroup_cpu_quota", lambda: None)


def test_the_affinity_mask_decides_not_the_machine(one_cpu_allowed):
    assert cpus.available_cpus() == 1
    assert cpus.loader_workers() == 0
    assert cpus.loader_workers(3) == 3  # asked for: given


def test_workers_and_threads_split_what_is_available(eight_cpus_allowed):
    assert cpus.loader_workers() == 4
    assert cpus.compute_threads() == 8
    assert cpus.compute_threads(processes=3) == 2
    assert cpus.compute_threads(processes=16) == 1


@pytest.mark.parametrize(
    ("content", "quota"),
    [("150000 100000\n", 1.5), ("max 100000\n", None), ("garbage\n", None)],
)
def test_a_cgroup_v2_quota_is_read(tmp_path, content, quota):
    (tmp_path / "cpu.max").write_text(content)
    missing = (tmp_path / "none", tmp_path / "none")
    assert cpus.cgroup_cpu_quota(tmp_path / "cpu.max", missing) == quota


def test_a_cgroup_quota_caps_the_affinity(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    monkeypatch.setattr(cpus, "cgroup_cpu_quota", lambda: 1.5)  # docker --cpus 1.5
    assert cpus.available_cpus() == 2


def test_a_cgroup_v1_quota_is_read(tmp_path):
    v1 = (tmp_path / "quota", tmp_path / "period")
    v1[0].write_text("-1\n")  # v1: unlimited
    v1[1].write_text("100000\n")
    assert cpus.cgroup_cpu_quota(tmp_path / "no-v2", v1) is None
    v1[0].write_text("300000\n")
    assert cpus.cgroup_cpu_quota(tmp_path / "no-v2", v1) == 3.0


def test_torch_threads_follow_the_cpus_allowed(one_cpu_allowed):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert distributed.setup(torch.device("cpu")) == torch.device("cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_lower_thread_count_set_by_the_user_stays(eight_cpus_allowed):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert distributed.share_cores() == 1
    finally:
        torch.set_num_threads(before)


def test_importing_headstart_asks_openmp_for_sleeping_waits_unless_told_otherwise():
    code = "import os, headstart, torch; print(os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "ACTIVE"
