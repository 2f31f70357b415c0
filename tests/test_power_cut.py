"""Power cuts under a pipelined mixed workload: nothing acknowledged is lost.

Each cycle mounts an ext4 image on a loop device, starts a sidecar on it (checking what
the last cycle left against what was acknowledged), runs the mixed workload of
`tests.faults.mixed_load` for a random moment, writes a control file without fsync
and cuts the power (`EXT4_IOC_SHUTDOWN`, no log flush); then the sidecar is killed and
the image unmounted. Seeded: PLUE_POWERCUT_SEED and PLUE_POWERCUT_CYCLES replay a run
or make it longer; PLUE_POWERCUT_REPORT names a file to append the figures to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from pathlib import Path
from typing import Any

from plue_sidecar.store.disk.root import Root
from plue_sidecar.store.files.layout import generations_in
from plue_sidecar.store.journal.journal import read_journal
from tests.faults.capabilities import loop_mount_problem, require
from tests.faults.mixed_load import Model, check_and_adopt, run_worker
from tests.faults.power import ControlFile, Ext4Image
from tests.harness.client import SidecarProcess
from tests.harness.quarantine import check_quarantine, without_quarantined_logs

SEED = int(os.environ.get("PLUE_POWERCUT_SEED", "20261127"))
CYCLES = int(os.environ.get("PLUE_POWERCUT_CYCLES", "20"))
WORKERS = 4
IMAGE_MB = 512


async def start(data_dir: Path, rng: random.Random) -> SidecarProcess:
    extra = ["--checkpoint-every", "5"] if rng.random() < 0.5 else []
    sidecar = await SidecarProcess.start(data_dir, *extra)
    await sidecar.initialize()
    return sidecar


async def run_until_the_cut(
    sidecar: SidecarProcess,
    model: Model,
    image: Ext4Image,
    control: ControlFile,
    rng: random.Random,
) -> None:
    workers = [
        asyncio.create_task(run_worker(sidecar, model, random.Random(rng.random())))
        for _ in range(WORKERS)
    ]
    await sidecar.until_loaded()  # the cut lands among the writes, not in the import
    done, _ = await asyncio.wait(workers, timeout=rng.uniform(0.05, 1.2))
    for finished in done:
        finished.result()  # a worker that died early is a bug in the rig
    control.write_unsynced()
    model.cut_started = True  # answers read from here on may race the cut
    image.cut_power()
    sidecar.process.kill()
    for worker in workers:
        worker.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    await sidecar.process.wait()
    # Killed in the middle of a frame (a big message), the client's reader ends torn.
    with contextlib.suppress(asyncio.IncompleteReadError):
        await sidecar.client.stop()


async def test_acknowledged_changes_survive_power_cuts(
    tmp_path: Path, record_property: Any
) -> None:
    require(loop_mount_problem())
    rng = random.Random(SEED)
    image = Ext4Image(tmp_path / "disk.img", tmp_path / "mnt", IMAGE_MB)
    data_dir = image.mount_point / "data"
    model = Model()
    discarded = 0
    problems: list[str] = []
    quarantined: set[str] = set()  # message logs of forks a cut stopped short, checked
    try:
        for cycle in range(CYCLES + 1):
            image.mount()
            control = ControlFile(image.mount_point / f"control-{cycle}", cycle)
            if cycle:
                discarded += ControlFile(
                    image.mount_point / f"control-{cycle - 1}", cycle - 1
                ).was_discarded()
            sidecar = await start(data_dir, rng)
            await sidecar.until_loaded()  # the load has quarantined what it does
            problems = check_quarantine(
                data_dir,
                quarantined,
                bool(model.creating),
                set(model.sessions) | model.deleted,
            )
            problems += await check_and_adopt(sidecar, model)
            assert not problems, f"cycle {cycle} (seed {SEED}): {problems}"
            assert not model.figures.refused_before_cut, model.figures.refused_before_cut
            model.cut_started = False
            if cycle == CYCLES:
                await sidecar.stop()
            else:
                await run_until_the_cut(sidecar, model, image, control, rng)
            log = without_quarantined_logs(await sidecar.stderr_text())
            for sign in ("quarantin", "read-only", "Traceback", "damaged"):
                assert sign not in log, f"cycle {cycle}: {log[-3000:]}"
            image.unmount()
    finally:
        image.close()
    figures = model.figures
    summary = (
        f"power cuts: {CYCLES} cycles (seed {SEED}), {figures.acknowledged} changes "
        f"acknowledged before a cut and checked, 0 lost; {figures.racing} answered "
        f"while the cut ran (rig limit, not checked); control file discarded in "
        f"{discarded} of {CYCLES}"
    )
    record_property("power_cut", summary)
    report = os.environ.get("PLUE_POWERCUT_REPORT")
    if report:
        with open(report, "a") as out:
            out.write(summary + "\n")
    assert discarded == CYCLES, f"the cut did not discard unsynced data: {summary}"
    assert figures.acknowledged > CYCLES * 10, f"too little was checked: {summary}"


async def test_a_power_cut_in_the_journals_preallocated_zeros_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    """Creates written over the zeros a generation holds ahead, a cut while a pipelined
    batch is in flight: after a reboot the generation still ends in zeros, every
    acknowledged create is there and the journal reports no damage."""
    require(loop_mount_problem())
    image = Ext4Image(tmp_path / "disk.img", tmp_path / "mnt", 64)
    data_dir = image.mount_point / "data"
    try:
        image.mount()
        sidecar = await SidecarProcess.start(data_dir)
        await sidecar.initialize()
        acked = {
            (await sidecar.call("session/create", {"title": f"a{n}"}))["id"] for n in range(20)
        }
        in_flight = [sidecar.send("session/create", {"title": f"b{n}"}) for n in range(200)]
        await asyncio.wait(in_flight, timeout=0.02)
        image.cut_power()
        acked |= {
            future.result()["result"]["id"]
            for future in in_flight
            if future.done() and not future.exception() and "result" in future.result()
        }
        sidecar.process.kill()
        await sidecar.process.wait()
        with contextlib.suppress(Exception):
            await sidecar.client.stop()
        image.unmount()
        image.mount()
        sessions = data_dir / "sessions"
        journal = read_journal(Root(data_dir), sessions)
        assert journal.problems == []
        tails = [path.read_bytes() for _, path in generations_in(Root(data_dir), sessions)]
        assert any(tail.endswith(b"\0") for tail in tails), "no zeros ahead at the cut"
        restarted = await SidecarProcess.start(data_dir)
        await restarted.initialize()
        listed = await restarted.call("session/list", {"limit": 1000})
        assert acked <= {session["id"] for session in listed["sessions"]}
        await restarted.stop()
        assert "damaged" not in await restarted.stderr_text()
    finally:
        image.close()
