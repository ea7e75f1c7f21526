"""``walkout batch``: many recorded clips and stores, in parallel on Ray (the ``ray`` extra)
or one after another in this process (``--serial``)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..errors import WalkoutError
from .common import ambiguous_below_option, backend_option, fusion_params, trust_option


def cmd_batch(args: argparse.Namespace) -> int:
    from .. import batch
    from ..io import check_out_dir

    out = check_out_dir(args.out)  # output paths first
    if args.workers is not None and args.workers < 1:
        raise WalkoutError(f"--workers: expected 1 or more, got {args.workers}")
    if args.gpus < 0:
        raise WalkoutError(f"--gpus: expected a share of a GPU, 0 or more, got {args.gpus:g}")
    if args.serial and (args.ray or args.workers):
        raise WalkoutError("--serial runs in this process: it takes no --ray or --workers")
    if args.threads is not None and (args.threads < 1 or not args.serial):
        raise WalkoutError("--threads: expected 1 or more, with --serial (a Ray worker's "
                           "detector has one thread per CPU it holds)")
    opts = batch.Options(args.model, args.backend, args.device, args.trust_model,
                         fusion_params(args), args.save_video)
    jobs = batch.find_jobs(args.inputs, out)
    todo, outcomes = [], {}
    for job in jobs:  # every model is checked, and finished jobs set aside, before any work
        det = batch.detector_of(job, opts)
        if batch.finished(job, batch.settings_of(job, opts, det)):
            outcomes[job.name] = batch.Outcome(job.name, "done before",
                                               receipts=batch._receipt_count(job.out))
        else:
            todo.append(job)
    for job in {str(batch.detector_of(j, opts).path): j for j in todo}.values():
        try:
            batch.detector_of(job, opts).load()
        except WalkoutError as exc:
            raise WalkoutError(f"{job.store}: {exc}") from None

    bar = _Bar(todo, enabled=sys.stderr.isatty() and not args.quiet)
    failed = []

    def done(outcome) -> None:
        bar.finish_job(outcome)
        bar.write(outcome.line())
        for line in outcome.warnings:
            bar.write(f"walkout: warning: {outcome.name}: {line}")
        if outcome.status == "failed":
            failed.append(outcome)

    for o in outcomes.values():
        print(o.line())
    t0 = time.perf_counter()
    ray = None
    how = {"mode": "serial", "workers": 1}
    try:
        if todo and args.serial:
            out.mkdir(parents=True, exist_ok=True)
            ran = batch.run_serial(todo, opts, on_progress=bar.progress, on_done=done,
                                   threads=args.threads)
        elif todo:
            ray, started = batch.start_ray(args.ray, args.workers)
            out.mkdir(parents=True, exist_ok=True)
            workers = args.workers or max(int(ray.cluster_resources().get("CPU", 1)), 1)
            how = {"mode": "ray", "address": args.ray or "local", "workers": workers,
                   "gpus_per_worker": args.gpus}
            try:
                ran = batch.run_on_ray(todo, opts, workers, args.gpus,
                                       on_progress=bar.progress, on_done=done, ray=ray)
            finally:
                if started:
                    ray.shutdown()
        else:
            ran = []
            out.mkdir(parents=True, exist_ok=True)
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    outcomes.update((o.name, o) for o in ran)
    ordered = [outcomes[j.name] for j in jobs]
    batch.write_summary(out / "batch.json", jobs, ordered, {**how, "wall_s": round(wall, 2)})
    frames = sum(o.frames for o in ran)
    video = sum(o.video_s for o in ran)
    n_ran = sum(o.status == "ran" for o in ran)
    where = (f"Ray at {how['address']}, {how['workers']} workers" if how["mode"] == "ray"
             else "serial, in this process")
    rate = (f"; {frames} frames in {wall:.1f} s = {60 * n_ran / max(wall, 1e-9):.2f} "
            f"clips/min, {video / max(wall, 1e-9):.1f}x real time ({where})") if n_ran else ""
    print(f"batch: {len(jobs)} jobs ({n_ran} ran, {len(jobs) - len(todo)} finished before, "
          f"{len(failed)} failed){rate}")
    labelled = [j for j in jobs if j.labelled and outcomes[j.name].status != "failed"]
    if labelled:
        from ..evaluate import evaluate
        from ..io import write_json_atomic
        from ..report import terminal_table

        summary = evaluate([j.source for j in labelled], out).summary()
        print(terminal_table(summary))
        write_json_atomic(out / "eval.json", summary)
    print(f"wrote {out}/<clip>/ for each job, {out / 'batch.json'}"
          + (f" and {out / 'eval.json'}" if labelled else ""))
    if failed:
        raise WalkoutError(f"{len(failed)} of {len(jobs)} jobs failed; first: "
                           f"{failed[0].name}: {failed[0].error}")
    return 0


class _Bar:
    """One progress bar over every frame of the batch (a quiet no-op off a terminal)."""

    def __init__(self, jobs, enabled: bool) -> None:
        self.done: dict[str, int] = {}
        self.total = {j.name: j.frames for j in jobs}
        self.bar = None
        if enabled and jobs:
            from tqdm import tqdm

            self.bar = tqdm(total=sum(self.total.values()), desc="batch", unit="frame",
                            dynamic_ncols=True)
        self.jobs_done = 0

    def progress(self, name: str, frames: int) -> None:
        self.done[name] = min(max(self.done.get(name, 0), frames), self.total.get(name, 0))
        if self.bar is not None:
            self.bar.n = sum(self.done.values())
            self.bar.refresh()

    def finish_job(self, outcome) -> None:
        self.jobs_done += 1
        self.progress(outcome.name, self.total.get(outcome.name, 0))
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.jobs_done}/{len(self.total)} jobs")

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def add_parsers(sub) -> None:
    b = sub.add_parser("batch", help="many clips or stores at once, in parallel on Ray")
    b.add_argument("inputs", nargs="+", metavar="CLIP_OR_STORE",
                   help="clip folders (video.mp4, store.yaml, weights.csv), folders of a "
                        "store's several cameras, or folders of either")
    b.add_argument("--out", required=True,
                   help="output folder: DIR/<clip>/ for each (what walkout run writes), "
                        "DIR/batch.json, and DIR/eval.json when the clips are labelled")
    b.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="a running Ray cluster (ray://HOST:10001, or auto); default: a "
                        "local Ray started for the batch (the ray extra)")
    b.add_argument("--workers", type=int, default=None, metavar="N",
                   help="jobs (and detector actors) at once, one CPU each (default: every "
                        f"CPU of the cluster; this machine has {os.cpu_count()})")
    b.add_argument("--gpus", type=float, default=0.0, metavar="F",
                   help="the share of a GPU each worker holds (default 0; 0.25 puts four "
                        "workers on a GPU)")
    b.add_argument("--serial", action="store_true",
                   help="no Ray: one job after another in this process")
    b.add_argument("--threads", type=int, default=None, metavar="N",
                   help="with --serial: the detector's CPU threads (default: every core)")
    b.add_argument("--model", default=None, help="detector model (default: each store's)")
    backend_option(b)
    trust_option(b)
    b.add_argument("--device", default=None, help="cpu, cuda:0 ... (default: GPU if any)")
    b.add_argument("--save-video", action="store_true", help="also write annotated.mp4")
    ambiguous_below_option(b)
    b.set_defaults(func=cmd_batch)

