"""Real-time factor of speech synthesis on the CPU: acoustic model and vocoder separately.

Baseline: real time (RTF 1.0); the target is below 0.3 for both together. Prints wall and
process-CPU seconds per second of audio for `--sentences` held-out sentences, one at a time,
with one thread (a shared machine inflates wall time, not CPU time).
Run: OMP_NUM_THREADS=1 python bench/tts_rtf.py RUN --data examples/tts/data/test.csv
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch


def main() -> None:
    from modelyard.api import Model
    from modelyard.tts.vocoding import get_vocoder, vocode

    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--data", required=True)
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--vocoder", default="griffin_lim")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = Model.load(args.run)
    vocoder = get_vocoder(args.vocoder, model.base_dir)
    frame = pd.read_csv(args.data).head(args.sentences)
    spent = {"acoustic": [0.0, 0.0], "vocoder": [0.0, 0.0]}  # wall, cpu
    samples = 0
    for text, speaker in zip(frame["text"], frame["speaker"], strict=True):
        wall, cpu = time.perf_counter(), time.process_time()
        mels = model.mels([text], [model.speaker_id(speaker)])
        spent["acoustic"][0] += time.perf_counter() - wall
        spent["acoustic"][1] += time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        samples += len(vocode(vocoder, mels, model.scale)[0])
        spent["vocoder"][0] += time.perf_counter() - wall
        spent["vocoder"][1] += time.process_time() - cpu
    audio = samples / model.scale.sample_rate
    print(f"{len(frame)} sentences, {audio:.1f} s of audio ({args.vocoder})")
    for name, (wall, cpu) in spent.items():
        print(f"{name:9s} RTF wall {wall / audio:.3f}  cpu {cpu / audio:.3f}")
    wall = sum(w for w, _ in spent.values()) / audio
    cpu = sum(c for _, c in spent.values()) / audio
    print(f"together  RTF wall {wall:.3f}  cpu {cpu:.3f}  (ratio to real time; target < 0.3)")


if __name__ == "__main__":
    main()
