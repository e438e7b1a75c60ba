"""Evaluate many bags in parallel with Ray, locally or on an existing cluster.

Each bag is one Ray task running the same offline evaluation as a single-process
``dcr eval``; the results are merged into one report. With ``ray_address=None`` a local
Ray instance with ``workers`` CPUs is started (and stopped afterwards); give
``--ray-address auto`` (or ``ray://host:10001``) to use a running cluster, whose nodes
need this package installed and the bags at the same paths.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from depth_completion_ros.eval.results import EvaluationResult


def _evaluate(bag: str, options, pictures: str) -> EvaluationResult:
    from depth_completion_ros.eval.bag_evaluation import evaluate_offline

    return evaluate_offline(bag, options, Path(pictures) / Path(bag).stem)


def map_bags(bags: Sequence[Path], options, pictures: Path, workers: int,
             ray_address: str | None = None) -> Iterator[EvaluationResult]:
    """Yield one result per bag (in completion order), computed by Ray tasks."""
    import ray
    from tqdm import tqdm

    started_here = not ray.is_initialized()
    if started_here:
        if ray_address:
            ray.init(address=ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_evaluate)
        for bag in bags:
            (pictures / Path(bag).stem).mkdir(parents=True, exist_ok=True)
        pending = [task.remote(str(bag), options, str(pictures)) for bag in bags]
        with tqdm(total=len(pending), desc="dcr eval (ray)", unit="bag") as progress:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                progress.update(1)
                yield ray.get(done[0])
    finally:
        if started_here:
            ray.shutdown()
