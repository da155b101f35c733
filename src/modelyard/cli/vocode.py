"""`modelyard vocode SPEC --audio IN --out OUT.wav`: copy-synthesis through a vocoder (the
clip's log-mel back to a waveform), to listen to what a vocoder keeps of real speech."""

from __future__ import annotations

import argparse
from pathlib import Path

VOCODE_HELP = """SPEC is 'griffin_lim' or the run directory of a `task: vocoder` training. The
audio file is read (mono, resampled to the scale's rate), turned into the log-mel of the
vocoder's scale (griffin_lim: --sample-rate/--n-mels/--window-ms/--hop-ms, the speech
synthesis defaults), and the vocoder turns that back into a 16-bit WAV. Prints the
mel-cepstral distortion (dB) of the result against the input and the real-time factor.

examples:
  modelyard vocode runs/vocoder --audio clip.wav --out resynthesized.wav
  modelyard vocode griffin_lim --audio clip.wav --out gl.wav --iterations 64"""


def add_vocode(verbs) -> None:
    parser = verbs.add_parser(
        "vocode",
        help="resynthesize an audio file through a vocoder (griffin_lim or a vocoder run)",
        description=VOCODE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", metavar="SPEC", help="griffin_lim, or a vocoder run directory")
    parser.add_argument("--audio", required=True, help="the audio file (WAV, FLAC, OGG)")
    parser.add_argument("--out", required=True, help="the WAV file to write")
    parser.add_argument("--iterations", type=int, default=32, help="griffin_lim: iterations")
    parser.add_argument("--sample-rate", type=int, default=22050, help="griffin_lim's scale")
    parser.add_argument("--n-mels", type=int, default=80, help="griffin_lim's scale")
    parser.add_argument("--window-ms", type=float, default=46.4, help="griffin_lim's scale")
    parser.add_argument("--hop-ms", type=float, default=11.6, help="griffin_lim's scale")


def run_vocode(args) -> int:
    import time

    import soundfile
    import torch

    from modelyard.data.mel import MelScale
    from modelyard.train.progress import log
    from modelyard.vocoder import GRIFFIN_LIM, load_vocoder
    from modelyard.vocoder.data import _load
    from modelyard.vocoder.metrics import mcd

    options = {"iterations": args.iterations} if args.spec == GRIFFIN_LIM else {}
    vocoder = load_vocoder(args.spec, Path.cwd(), **options)
    scale = vocoder.scale or MelScale(args.sample_rate, args.n_mels, args.window_ms, args.hop_ms)
    wave = torch.from_numpy(_load(args.audio, "--audio", "(the --audio file)", scale.sample_rate))
    mel = scale.log_mel(wave.view(1, -1))
    began = time.perf_counter()
    out = vocoder(mel, scale)[0]
    seconds = time.perf_counter() - began
    soundfile.write(args.out, out.numpy(), scale.sample_rate, subtype="PCM_16")
    distortion = mcd(mel[0], scale.log_mel(out.view(1, -1))[0])
    rtf = seconds / max(len(out) / scale.sample_rate, 1e-9)
    log(f"wrote {args.out}: {len(out) / scale.sample_rate:.2f} s")
    print(f"mcd {distortion:.3f} dB  real_time_factor {rtf:.3f}")
    return 0
