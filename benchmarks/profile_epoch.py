"""Profile one NMM training epoch on the TensorFlow backend: where the time goes, grouped by
part of the model, with the ten most expensive ops.

Run:

    .venv/bin/python benchmarks/profile_epoch.py [--subject S01] [--quick]
    .venv/bin/python benchmarks/profile_epoch.py --xla [--members 8]

TensorFlow's profiler traces one epoch (after an untimed one that traces and compiles); this
script reads the trace (an XSpace protobuf) itself and sums each op's self time, so nothing
else (TensorBoard) is needed. The trace is written under a temporary folder and removed.

Without ``--xla``: a one-member model run op by op (the quick plan's path), grouped by part of
the model. With ``--xla``: the full plan's path (XLA, the full plan's windows and batch, a model
of ``--members`` members as the chapters train side by side), with XLA's CPU runtime asked to
trace each compiled op (``XLA_FLAGS=--xla_cpu_enable_xprof_traceme=true``); compiled ops carry
HLO names, not the model's, so they are grouped by kind: matrix products, layout copies, the
activation-dynamics loop's body (the ops that run once per time step, many times per training
step) and the element-wise fusions.
"""

import argparse
import collections
import os
import tempfile
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GROUPS = (  # (label, test on the op's name), first match wins
    ("activation dynamics scan, backward", lambda n: "physics" in n and "while" in n and "grad" in n),
    ("activation dynamics scan, forward", lambda n: "physics" in n and "while" in n),
    ("rest of the physics (delay, forces, torque), forward and backward", lambda n: "physics" in n),
    ("backbone, backward", lambda n: "backbone" in n and "gradient_tape" in n),
    ("backbone, forward", lambda n: "backbone" in n),
    ("loss and metrics", lambda n: "compute_loss" in n or "nmm_1/" in n and "gradient_tape" not in n
     or "mean" in n.lower() and "metric" in n.lower()),
    ("optimizer (Adam)", lambda n: "adam" in n.lower() or "optimizer" in n.lower() or "AssignVariable" in n),
    ("executor dispatch (per-op overhead)", lambda n: n.startswith(("ExecutorState", "ExecutorDoneCallback",
                                                                     "ParallelFor"))),
    ("input pipeline", lambda n: "Iterator" in n or "iterator" in n or n.startswith(("Prefetch", "ParallelMap"))),
    ("profiler and allocator markers (not ops)", lambda n: n.startswith(("ThreadpoolListener", "Memory"))),
)
NOT_OPS = ("executor dispatch (per-op overhead)", "profiler and allocator markers (not ops)")
#: Host events of an XLA run that are waiting, not computing (the caller blocks on the result).
XLA_WAITING = ("BlockUntilReady", "CpuExecutable::ExecuteAsyncOnStream", "SlinkyThreadPool::Await")


def self_times(xspace_path: Path) -> tuple[collections.Counter, collections.Counter]:
    """Self time (ps) and number of runs per event name on the host's TensorFlow compute threads."""
    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    space = xplane_pb2.XSpace()
    space.ParseFromString(xspace_path.read_bytes())
    totals, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if line.name == "python":
                continue
            events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
            own = [e.duration_ps for e in events]
            stack = []  # (end, index) of enclosing events
            for i, event in enumerate(events):
                while stack and stack[-1][0] <= event.offset_ps:
                    stack.pop()
                if stack:
                    own[stack[-1][1]] -= event.duration_ps
                stack.append((event.offset_ps + event.duration_ps, i))
            for event, t in zip(events, own):
                totals[plane.event_metadata[event.metadata_id].name] += t
                counts[plane.event_metadata[event.metadata_id].name] += 1
    return totals, counts


def xla_groups(totals, counts, steps: int) -> collections.Counter:
    """Self time per kind of compiled op: ops run more often than ``steps`` times in the epoch
    are the activation-dynamics loop's body; the rest by their HLO name."""
    grouped = collections.Counter()
    for name, t in totals.items():
        if name in XLA_WAITING:
            continue
        kind = name.split("/")[-1].split(".")[0]
        if counts[name] > steps and name.startswith("ThunkExecutor"):
            label = "XLA runtime (thunk dispatch)"
        elif counts[name] > steps:
            label = "activation-dynamics loop body (ops run once per time step)"
        elif kind.startswith(("dot", "MatMul", "BatchMatMul", "Einsum")):
            label = "matrix products (the backbone's dense layers and attention)"
        elif "transpose" in kind or kind.startswith(("copy", "bitcast_copy")):
            label = "transposes and copies (layouts around the products)"
        else:
            label = "element-wise and reduction fusions (norms, softmax, GELU, physics, losses, Adam)"
        grouped[label] += t
    return grouped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S01")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--xla", action="store_true", help="the full plan's XLA path, grouped by kind of compiled op")
    parser.add_argument("--members", type=int, default=8, help="members of the model profiled with --xla")
    args = parser.parse_args()
    if args.xla:  # before TensorFlow starts: XLA reads its flags once
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()

    import tensorflow as tf

    from nmm_core import protocol, training
    from nmm_core.training import subject_data
    from nmm_core.plotting import markdown_table

    data = subject_data(args.subject, args.quick)
    if args.xla:
        plan = protocol.FULL
        model = training.build_model(data.learner, plan.window, members=args.members, jit_compile=True,
                                     width=plan.width, depth=plan.depth)
        arrays, options = data.arrays["fit"], {"stride": plan.stride, "batch_size": plan.batch_size}
    else:
        model = training.build_model(data.learner, 64)
        arrays, options = data.arrays["train"], {}
    training.train(model, arrays, 64, 1, **options)  # trace and compile
    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        _, seconds = training.train(model, arrays, 64, 1, **options)
        tf.profiler.experimental.stop()
        trace = next(Path(folder).rglob("*.xplane.pb"))
        totals, counts = self_times(trace)
    if args.xla:
        steps = counts.get("BlockUntilReady", 1)  # the host waits once per compiled training step
        grouped = xla_groups(totals, counts, steps)
        grand = sum(grouped.values())
        print(f"One epoch of subject {args.subject} (full cohort, full plan with XLA, {args.members} members, "
              f"{steps} training steps): {seconds:.2f} s wall; {grand / 1e12:.2f} s of compiled-op self time\n")
        print(markdown_table(["kind of compiled op", "self time (s)", "share (%)"],
                             [[label, t / 1e12, 100 * t / grand] for label, t in grouped.most_common()]))
        return
    grand = sum(totals.values())
    grouped, runs = collections.Counter(), collections.Counter()
    for name, t in totals.items():
        label = next((label for label, test in GROUPS if test(name)), "other")
        grouped[label] += t
        runs[label] += counts[name]
    print(f"One epoch of subject {args.subject} ({'quick' if args.quick else 'full'} cohort): "
          f"{seconds:.2f} s wall; {grand / 1e12:.2f} s of op self time on the compute threads\n")
    print(markdown_table(["part", "self time (s)", "share (%)", "op runs"],
                         [[label, t / 1e12, 100 * t / grand, runs[label]] for label, t in grouped.most_common()]))
    ops = sum(n for label, n in runs.items() if label not in NOT_OPS)
    loop = sum(n for label, n in runs.items() if label.startswith("activation dynamics scan"))
    print(f"\nOps run in the epoch: {ops}, of which {loop} ({100 * loop / ops:.0f} %) in the activation-dynamics "
          "loop (one small op per muscle-state update and time step); the executor's dispatch cost is paid per "
          "op run, so the loop's share of the op runs is its share of the dispatch.\n")
    print(markdown_table(["op", "self time (ms)", "share (%)"],
                         [[name[-90:], t / 1e9, 100 * t / grand] for name, t in totals.most_common(10)]))


if __name__ == "__main__":
    main()
