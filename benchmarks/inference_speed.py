"""NMM inference speed: real-time factor in batch (a whole recording session at once) and the
time per window when streaming, by Keras backend and XLA compilation; the MSE baseline's fit
time and inference speed beside it.

Run:

    .venv/bin/python benchmarks/inference_speed.py [--subjects S01 S02 ...] [--quick]

The NMM is the subject chapter's saved model (results/<subject>/nmm.keras) when present, else
one trained here briefly (inference speed does not depend on the weights). Nothing is written.
"""

import argparse

from nmm_core.benchmark import configurations, run_isolated
from nmm_core.plotting import markdown_table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", default=["S01"])
    parser.add_argument("--quick", action="store_true", help="the quick cohort")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    rows = []
    for subject in args.subjects:
        for backend, jit in configurations():
            r = run_isolated("inference", backend, subject=subject, quick=args.quick, jit=jit, runs=args.runs)
            rows.append([subject, f"NMM, {backend}", "XLA" if jit != "off" else "no XLA",
                         f"{r['batch']['movement_s']:.1f}", f"{r['batch']['real_time_factor']:.0f}",
                         f"{r['batch_deep_only']['real_time_factor']:.0f}",
                         f"{r['streaming']['median_ms']:.2f} / {r['streaming']['p95_ms']:.2f}",
                         f"{r['streaming']['hop_ms']:.0f}", "", f"{r['batch']['first_call_s']:.2f}"])
            print(rows[-1], flush=True)
        r = run_isolated("synx", "tensorflow", subject=subject, quick=args.quick, runs=args.runs)
        rows.append([subject, "MSE (NumPy)", "", f"{r['inference']['movement_s']:.1f}",
                     f"{r['inference']['real_time_factor']:.0f}",
                     f"{r['inference_deep_only']['real_time_factor']:.0f}", "", "", f"{r['fit_seconds']:.1f}", ""])
        print(rows[-1], flush=True)
    machine = r["machine"]
    print(f"\n{machine['cpu']}, {machine['cores']} cores; {'quick' if args.quick else 'full'} cohort; "
          f"medians of {args.runs} runs. Real-time factor: seconds of movement per second of computing. "
          "Streaming: one 64-sample window every hop, median / 95th percentile.\n")
    print(markdown_table(["subject", "method", "compilation", "movement (s)", "batch RTF (deep + torque)",
                          "batch RTF (deep only)", "streaming ms/window", "hop (ms)", "MSE fit (s)",
                          "first call (s)"], rows))


if __name__ == "__main__":
    main()
